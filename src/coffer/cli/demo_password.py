"""The password chapters of ``coffer demo``: the WhatsApp flow against an embedded vault.

Rules:

- The demo's vault is an :class:`~coffer.vault.embedded.EmbeddedVault` on loopback with the
  light KSF profile :data:`DEMO_KSF` (opaque-ke's default, Argon2id m = 19 MiB, t = 2) so the
  demo stays under a minute; the output says so. Real deployments use the vault's default
  (``mobile``: m = 64 MiB, t = 3).
- Each "phone" has its own config folder inside the demo folder (``old-phone/``,
  ``new-phone/``), so the demo never writes to the user's own ``~/.config/coffer``.
- Everything goes through the same functions the CLI uses (:mod:`coffer.unlock`).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from coffer.backends.local import LocalBackend
from coffer.crypto.recovery import RecoveryKey
from coffer.crypto.slots import SlotKind
from coffer.engine.repository import Repository, list_slots
from coffer.opaque import KSF_OPAQUE_KE_DEFAULT
from coffer.paths import ENV_CONFIG
from coffer.unlock import PasswordLocked, PasswordRejected, VaultTarget, open_with_password
from coffer.unlock.strength import check_strength
from coffer.unlock.vault_route import escrow_new_secret
from coffer.vault import wire
from coffer.vault.embedded import EmbeddedVault
from coffer.vault.protocol import VaultSettings

DEMO_KSF = KSF_OPAQUE_KE_DEFAULT
ACCOUNT = "demo-user@example.net"
PASSWORD = "lantern orbit meadow quietly 1979"  # noqa: S105 - the demo's published password
PASSWORD_B = PASSWORD.encode("utf-8")
WRONG_PASSWORD = "lantern orbit meadow quietly 1980"  # noqa: S105
Say = Callable[[str], None]


@contextlib.contextmanager
def phone(workdir: Path, name: str) -> Iterator[None]:
    """Run the block as a device whose config folder is ``workdir/name``."""
    old = os.environ.get(ENV_CONFIG)
    os.environ[ENV_CONFIG] = str(workdir / name / "config.toml")
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(ENV_CONFIG, None)
        else:
            os.environ[ENV_CONFIG] = old


def start_vault(workdir: Path) -> EmbeddedVault:
    settings = VaultSettings(default_ksf=wire.ksf_to_json(DEMO_KSF), node="demo")
    return EmbeddedVault(workdir / "vault", settings).start()


def create_repository(workdir: Path, repo_dir: Path, vault: EmbeddedVault) -> Repository:
    """A repository with a password slot (V escrowed in the vault) and a recovery-key slot."""
    check_strength(PASSWORD)
    with phone(workdir, "old-phone"):
        secret, meta = escrow_new_secret(VaultTarget(vault.url, ACCOUNT, None), PASSWORD_B)
    repo = Repository.init(LocalBackend(repo_dir))
    repo.add_slot(SlotKind.VAULT, secret, meta)
    key = RecoveryKey.generate()
    repo.add_slot(SlotKind.RECOVERY, key.secret)
    key_file = workdir / "recovery-key.txt"
    key_file.write_text(key.display() + "\n")
    key_file.chmod(0o600)
    return repo


def open_on_new_phone(
    workdir: Path, repo_dir: Path, vault: EmbeddedVault
) -> tuple[Repository, float]:
    """Open with only the vault address, the account and the password; return the time taken."""
    backend = LocalBackend(repo_dir)
    t = time.monotonic()
    with phone(workdir, "new-phone"):
        repo, _secret = open_with_password(
            backend, list_slots(backend), VaultTarget(vault.url, ACCOUNT, None), PASSWORD_B
        )
    return repo, time.monotonic() - t


def lock_out(workdir: Path, repo_dir: Path, vault: EmbeddedVault, say: Say) -> dict[str, object]:
    """Ten wrong passwords, then the right one: the password route is gone for good."""
    backend = LocalBackend(repo_dir)
    slots, target = list_slots(backend), VaultTarget(vault.url, ACCOUNT, None)
    left: list[int] = []
    with phone(workdir, "thief-phone"):
        for _ in range(vault.store.max_attempts):
            try:
                open_with_password(backend, slots, target, WRONG_PASSWORD.encode())
            except PasswordRejected as exc:
                left.append(exc.attempts_left)
        say("   wrong password → attempts left: " + " ".join(str(n) for n in left))
        try:
            open_with_password(backend, slots, target, PASSWORD_B)
            locked_message = ""
        except PasswordLocked as exc:
            locked_message = str(exc)
    say(f"   then the RIGHT password: {locked_message or 'opened (unexpected!)'}")
    return {"attempts_left": left, "locked": bool(locked_message)}


def recovery_still_opens(workdir: Path, repo_dir: Path) -> int:
    """Open with the recovery key alone; return the number of snapshots it can see."""
    key = RecoveryKey.parse((workdir / "recovery-key.txt").read_text())
    repo = Repository.open(LocalBackend(repo_dir), SlotKind.RECOVERY, key.secret)
    return len(repo.snapshot_ids())
