"""``coffer init``: create a repository and its first key slot (the recovery key)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from coffer.cli.context import Options, backend_for, common_options
from coffer.cli.output import emit_json
from coffer.crypto.recovery import RecoveryKey
from coffer.crypto.slots import SlotKind
from coffer.engine.repository import Repository

INSTRUCTION = (
    "This is your recovery key. It is the ONLY way to open these backups without a vault\n"
    "password: write it down or store it in a password manager now. Coffer will not show it again."
)


def _save_key(path: Path, key: RecoveryKey) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key.display() + "\n")


@click.command("init")
@common_options
@click.option(
    "--save-recovery-key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="also write the recovery key to this new file (mode 0600)",
)
def command(opts: Options, save_recovery_key: Path | None) -> None:
    """Create a new encrypted repository and print its recovery key once."""
    backend = backend_for(opts)
    repo = Repository.init(backend)
    key = RecoveryKey.generate()
    slot_id = repo.add_slot(SlotKind.RECOVERY, key.secret)
    if save_recovery_key is not None:
        _save_key(save_recovery_key, key)
    if opts.json:
        emit_json(
            {
                "repository": backend.location,
                "repository_id": repo.repo_id.hex(),
                "key_slot": slot_id,
                "recovery_key": key.display(),
            }
        )
        return
    click.echo(f"created repository {repo.repo_id.hex()[:8]} at {backend.location}\n")
    click.echo(INSTRUCTION + "\n")
    click.echo("    " + key.display() + "\n")
