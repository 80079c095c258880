"""Issue 14's stale-password scenario, end to end, as a user's cron job would meet it.

A repository protected by a password (and a recovery key) at a real vault on loopback; the
password is changed on "another device"; then this device's unattended job runs five times with
the old password in ``--password-file`` (stdin not a terminal). Each run's exit code and message
are printed with the vault's attempt counter after it, then one run with the new password.

Run: ``.venv/bin/python scripts/stale_password_scenario.py [--runs N]``. It uses the test vaults'
light KSF so it takes seconds; it writes only into a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from coffer.opaque import Argon2idKSF
from coffer.vault import wire
from coffer.vault.client import VaultClient
from coffer.vault.embedded import EmbeddedVault
from coffer.vault.protocol import VaultSettings

PASSWORD = "violet kettle orbit marsh 59"
NEW_PASSWORD = "copper lantern drifts seaward 17"
LIGHT = VaultSettings(default_ksf=wire.ksf_to_json(Argon2idKSF(64, 1, 1)), node="scenario")


def coffer(env: dict[str, str], *args: str) -> tuple[int, str]:
    """One non-interactive ``coffer`` run (stdin is /dev/null); its exit code and stderr."""
    done = subprocess.run(
        [sys.executable, "-m", "coffer", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode, done.stderr.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp, EmbeddedVault(Path(tmp) / "vault", LIGHT) as v:
        root = Path(tmp)
        env = {k: val for k, val in os.environ.items() if not k.startswith("COFFER_")}
        env |= {
            "COFFER_CONFIG": str(root / "device" / "config.toml"),
            "COFFER_VAULT_MIN_KSF": "8,1",
        }
        (root / "old.txt").write_text(PASSWORD + "\n")
        (root / "new.txt").write_text(NEW_PASSWORD + "\n")
        (root / "src").mkdir()
        (root / "src" / "chat.txt").write_text("hello\n" * 100)
        repo = ["--repo", str(root / "repo")]
        old, new = (
            ["--password-file", str(root / "old.txt")],
            ["--password-file", str(root / "new.txt")],
        )
        code, err = coffer(
            env, "init", *repo, "--vault", v.url, "--account", "sam", "--password",
            "--recovery-key", *old,
        )  # fmt: skip
        assert code == 0, err
        assert coffer(env, "backup", *repo, *old, str(root / "src"))[0] == 0
        other = env | {"COFFER_CONFIG": str(root / "other-device" / "config.toml")}
        code, err = coffer(other, "password", "change", *repo, *old, "--new-password-file",
                           str(root / "new.txt"))  # fmt: skip
        assert code == 0, err
        with VaultClient(v.url, pinned_key=v.public_key) as client:
            print(f"after `password change` on another device: {client.attempts_left('sam')} left")
            for n in range(1, runs + 1):
                code, err = coffer(env, "backup", *repo, *old, "-q", str(root / "src"))
                left = client.attempts_left("sam")
                print(f"run {n}: exit {code}: {err}\n        vault counter: {left} attempts left")
            code, err = coffer(env, "backup", *repo, *new, "-q", str(root / "src"))
            print(
                f"with the new password: exit {code}; vault counter {client.attempts_left('sam')}"
            )
            code, err = coffer(env, "snapshots", *repo, *new, "--account", "sam-typo")
            print(f"a wrong --account: exit {code}: {err}")


if __name__ == "__main__":
    main()
