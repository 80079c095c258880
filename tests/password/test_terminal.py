"""At a real terminal (a pseudo-terminal): init asks for the password twice; a repository with
both slots asks for the password and falls back to the recovery key on an empty answer."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import sys
import time
from pathlib import Path

from coffer.vault.embedded import EmbeddedVault

from .support import PASSWORD, SETTINGS

_TIMEOUT = 60.0


def _in_terminal(args: list[str], answers: list[tuple[str, str]], env: dict[str, str]):
    """Run ``python -m coffer ARGS`` on a pty, answering each prompt once it appears."""
    pid, fd = pty.fork()
    if pid == 0:  # child: exec at once
        os.execve(sys.executable, [sys.executable, "-m", "coffer", *args], env)
    out, seen, pending = b"", 0, list(answers)
    deadline = time.monotonic() + _TIMEOUT
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
        if pending and pending[0][0].encode() in out[seen:]:
            os.write(fd, pending.pop(0)[1].encode() + b"\n")
            seen = len(out)
    else:
        os.kill(pid, signal.SIGKILL)
    os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), out.decode("utf-8", "replace"), pending


def test_prompts_at_a_terminal(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COFFER_")}
    env["COFFER_CONFIG"] = str(tmp_path / "cfg" / "config.toml")
    env["COFFER_VAULT_MIN_KSF"] = "8,1"  # the test vault's fast KSF (see tests/conftest.py)
    repo = ["--repo", str(tmp_path / "repo")]
    with EmbeddedVault(tmp_path / "vault", SETTINGS) as vault:
        code, out, left = _in_terminal(
            ["init", *repo, "--vault", vault.url, "--account", "pat", "--password",
             "--recovery-key"],
            [("New password", PASSWORD), ("Repeat", PASSWORD)],
            env,
        )  # fmt: skip
        assert code == 0 and not left, out
        assert PASSWORD not in out  # hidden input is not echoed
        key = re.search(r"((?:[0-9A-Z]{4} ){15}[0-9A-Z]{4})", out)
        assert key is not None, out

        code, out, left = _in_terminal(
            ["snapshots", *repo], [("leave empty to use the recovery key", PASSWORD)], env
        )
        assert code == 0 and not left, out

        code, out, left = _in_terminal(
            ["snapshots", *repo],
            [("leave empty to use the recovery key", ""), ("Recovery key", key.group(1))],
            env,
        )
        assert code == 0 and not left, out


def _attempts(vault: EmbeddedVault, account: str) -> int:
    from coffer.vault.client import VaultClient

    with VaultClient(vault.url, pinned_key=vault.public_key) as client:
        return client.attempts_left(account)


def test_after_unattended_failures_an_interactive_run_asks_and_works(tmp_path: Path) -> None:
    """The stale-password guard at a terminal: the known-bad file is not sent, the person is
    asked instead; a wrong typed password is followed by the count and a new prompt."""
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith("COFFER_")}
    env["COFFER_CONFIG"] = str(tmp_path / "cfg" / "config.toml")
    env["COFFER_VAULT_MIN_KSF"] = "8,1"
    stale = tmp_path / "stale.txt"
    stale.write_text("amber falcon ripple quarry 83\n")
    good = tmp_path / "good.txt"
    good.write_text(PASSWORD + "\n")
    repo = ["--repo", str(tmp_path / "repo")]
    with EmbeddedVault(tmp_path / "vault", SETTINGS) as vault:
        init = ["init", *repo, "--vault", vault.url, "--account", "pat", "--password",
                "--no-recovery-key", "--password-file", str(good)]  # fmt: skip
        done = subprocess.run(
            [sys.executable, "-m", "coffer", *init],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        job = [sys.executable, "-m", "coffer", "snapshots", *repo, "--password-file", str(stale)]
        for expected in (11, 16, 16):  # unattended: one guess, then refused before the vault
            done = subprocess.run(job, env=env, stdin=subprocess.DEVNULL, capture_output=True)
            assert done.returncode == expected, done.stderr
        assert _attempts(vault, "pat") == 9

        code, out, left = _in_terminal(
            ["snapshots", *repo, "--password-file", str(stale)],
            [("Password", "typo in the password 1"), ("Password", PASSWORD)],
            env,
        )
        assert code == 0 and not left, out
        assert "already failed" in out and "not sending it again" in out
        assert "wrong password — 8 attempts left" in out and "try again" in out
        assert _attempts(vault, "pat") == 10  # the right password restored the allowance
        done = subprocess.run(job, env=env, stdin=subprocess.DEVNULL, capture_output=True)
        assert done.returncode == 11  # the record was cleared: the stale file is tried again


def test_init_with_a_password_alone_asks_for_confirmation(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COFFER_")}
    env["COFFER_CONFIG"] = str(tmp_path / "cfg" / "config.toml")
    env["COFFER_VAULT_MIN_KSF"] = "8,1"
    with EmbeddedVault(tmp_path / "vault", SETTINGS) as vault:
        args = ["init", "--repo", str(tmp_path / "repo"), "--vault", vault.url, "--account",
                "ria", "--password"]  # fmt: skip
        code, out, left = _in_terminal(args, [("only key?", "n")], env)
        assert code == 2 and not left and "nothing was created" in out, out
        assert "the password is the only way to open this repository" in out.replace("\r\n", " ")
        assert not (tmp_path / "repo").exists()
        code, out, left = _in_terminal(
            args, [("only key?", "y"), ("New password", PASSWORD), ("Repeat", PASSWORD)], env
        )
        assert code == 0 and not left, out
        assert "password slot" in out and "This is your recovery key" not in out


def test_an_unreachable_vault_is_reported_before_the_password_prompt(tmp_path: Path) -> None:
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith("COFFER_")}
    env["COFFER_CONFIG"] = str(tmp_path / "cfg" / "config.toml")
    env["COFFER_VAULT_MIN_KSF"] = "8,1"
    good = tmp_path / "good.txt"
    good.write_text(PASSWORD + "\n")
    both, only = ["--repo", str(tmp_path / "both")], ["--repo", str(tmp_path / "only")]
    with EmbeddedVault(tmp_path / "vault", SETTINGS) as vault:
        for repo, flag, account in (
            (both, "--recovery-key", "uma"),
            (only, "--no-recovery-key", "vic"),
        ):
            done = subprocess.run(
                [sys.executable, "-m", "coffer", "init", *repo, "--vault", vault.url,
                 "--account", account, "--password", flag, "--password-file", str(good)],
                env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
            if flag == "--recovery-key":
                key = re.search(r"((?:[0-9A-Z]{4} ){15}[0-9A-Z]{4})", done.stdout)
    assert key is not None
    # the vault is gone: no password prompt; the recovery key is asked for where there is one
    code, out, left = _in_terminal(["snapshots", *both], [("Recovery key", key.group(1))], env)
    assert code == 0 and not left, out
    assert "cannot reach the key vault" in out and "asking for the recovery key instead" in out
    assert "Password" not in out
    code, out, left = _in_terminal(["snapshots", *only], [], env)
    assert code == 15 and "cannot reach the key vault" in out and "Password" not in out, out
