"""The freshness chapter of ``coffer demo``: the storage provider puts back an older copy.

Rules:
- The old phone opens the repository through the freshness check once, before its backups
  (:func:`watch`): from then on its device record and the demo's vault (the repository's
  witness, as for any password repository) see every backup.
- :func:`provider_rolls_back` serves a copy of ``snapshots/`` the provider kept one backup
  earlier; the old phone (its own record) and a phone that never saw the repository (the
  vault's witness rows) must both refuse with exit code 20's error; then the real state is
  put back.
- Each phone has its own config and state folder in the demo folder
  (:func:`coffer.cli.demo_password.phone`); nothing is written to the user's own folders.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from coffer.backends.local import LocalBackend
from coffer.cli.demo_password import ACCOUNT, Say, phone
from coffer.crypto.recovery import RecoveryKey
from coffer.crypto.slots import SlotKind
from coffer.engine.repository import Repository, list_slots
from coffer.errors import FreshnessError
from coffer.freshness.guard import FreshnessOptions, guard
from coffer.freshness.witness_link import link_for
from coffer.unlock import VaultTarget
from coffer.vault.embedded import EmbeddedVault

COPY = "provider-copy"
PHONES = ("old-phone", "another-phone")


def _check(repo: Repository, vault: EmbeddedVault) -> None:
    link = link_for(repo, list_slots(repo.backend), VaultTarget(vault.url, ACCOUNT, None), None)
    guard(repo, FreshnessOptions(notify=lambda _m: None, witness=link))


def watch(workdir: Path, repo: Repository, vault: EmbeddedVault) -> None:
    """The old phone's freshness check (its record starts; the vault is the witness)."""
    with phone(workdir, "old-phone"):
        _check(repo, vault)


def keep_copy(workdir: Path, repo_dir: Path) -> None:
    """What the provider keeps aside: ``snapshots/`` as it is now."""
    shutil.copytree(repo_dir / "snapshots", workdir / COPY)


def provider_rolls_back(
    workdir: Path, repo_dir: Path, vault: EmbeddedVault, say: Say
) -> dict[str, str]:
    """Serve the kept copy; return each phone's refusal (empty when one went through)."""
    live, aside = repo_dir / "snapshots", workdir / "snapshots-now"
    shutil.move(live, aside)
    shutil.copytree(workdir / COPY, live)
    key = RecoveryKey.parse((workdir / "recovery-key.txt").read_text())
    refusals: dict[str, str] = {}
    try:
        for name in PHONES:
            with phone(workdir, name):
                repo = Repository.open(LocalBackend(repo_dir), SlotKind.RECOVERY, key.secret)
                try:
                    _check(repo, vault)
                    refusals[name] = ""
                except FreshnessError as exc:
                    refusals[name] = str(exc)
    finally:
        shutil.rmtree(live)
        shutil.move(aside, live)
    say("11. the storage provider puts back its copy of snapshots/ from one backup earlier:")
    for name, text in refusals.items():
        who = (
            "the old phone (its own record)"
            if name == "old-phone"
            else ("a phone that never saw it (the vault is the witness)")
        )
        outcome = f"refused, exit code {FreshnessError.exit_code}" if text else "NOT NOTICED"
        say(f"   {who}: {outcome}")
    if refusals.get("old-phone"):
        say(f"   coffer: error: {refusals['old-phone']}")
    return refusals
