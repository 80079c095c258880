"""``coffer key list|add-recovery|remove|forget``: the key slots of a repository.

Rules:

- Nothing here prints a secret except ``add-recovery``, which shows the new recovery key once
  (as ``init`` does). ``list`` needs no key: it reads the slots' public headers (kind, ID,
  creation time, and for vault slots the vault address, account and vault key fingerprint —
  hints that are authenticated only when a slot opens).
- ``add-recovery`` and ``remove`` first open the repository by any route, so only a key holder
  changes the slots; ``remove`` refuses to remove the last slot. Removing a vault slot leaves
  the vault's record in place (``coffer password remove`` deletes both).
- ``forget`` drops the key ``--remember`` kept for this repository (OS keyring and file).
"""

from __future__ import annotations

from pathlib import Path

import click

from coffer.cli.context import (
    Options,
    backend_for,
    common_options,
    open_repository,
    write_recovery_key_file,
)
from coffer.cli.output import emit_json
from coffer.crypto.recovery import RecoveryKey
from coffer.crypto.slots import SlotInfo, SlotKind
from coffer.engine.repository import list_slots, read_config_header
from coffer.errors import UsageError
from coffer.unlock import remember
from coffer.unlock.vault_route import META_ACCOUNT, META_FINGERPRINT, META_URL

INSTRUCTION = (
    "This is the new recovery key. Write it down or store it in a password manager now: "
    "Coffer will not show it again."
)


@click.group("key")
def key() -> None:
    """List, add and remove the key slots of a repository (never shows a stored secret)."""


def _row(slot: SlotInfo) -> dict[str, str]:
    row = {"id": slot.slot_id, "kind": slot.kind.value, "created": slot.created}
    if slot.kind == SlotKind.VAULT:
        for name in (META_URL, META_ACCOUNT, META_FINGERPRINT):
            row[name] = slot.meta.get(name, "")
    return row


@key.command("list")
@common_options
def list_keys(opts: Options) -> None:
    """Show each key slot: its ID, kind and creation time (and vault for password slots)."""
    backend = backend_for(opts)
    read_config_header(backend)
    rows = [_row(s) for s in list_slots(backend)]
    if opts.json:
        emit_json(rows)
        return
    for row in rows:
        line = f"{row['id'][:12]}  {row['kind']:<9} {row['created']}"
        if row["kind"] == SlotKind.VAULT.value:
            line += (
                f"  account {row[META_ACCOUNT]!r} at {row[META_URL]} "
                f"(vault key {row[META_FINGERPRINT]})"
            )
        click.echo(line)


@key.command("add-recovery")
@common_options
@click.option(
    "--save-recovery-key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="also write the new recovery key to this new file (mode 0600)",
)
def add_recovery(opts: Options, save_recovery_key: Path | None) -> None:
    """Add a recovery-key slot and print the new recovery key once."""
    repo = open_repository(opts)
    recovery = RecoveryKey.generate()
    slot_id = repo.add_slot(SlotKind.RECOVERY, recovery.secret)
    if save_recovery_key is not None:
        write_recovery_key_file(save_recovery_key, recovery)
    if opts.json:
        emit_json({"key_slot": slot_id, "recovery_key": recovery.display()})
        return
    click.echo(f"added recovery-key slot {slot_id[:12]}\n")
    click.echo(INSTRUCTION + "\n")
    click.echo("    " + recovery.display() + "\n")


def _match(slots: list[SlotInfo], prefix: str) -> SlotInfo:
    prefix = prefix.strip().lower()
    found = [s for s in slots if s.slot_id.startswith(prefix)] if len(prefix) >= 4 else []
    if len(found) != 1:
        what = "no key slot" if not found else f"{len(found)} key slots"
        raise UsageError(f"{what} match {prefix!r} (give at least 4 characters of an ID)")
    return found[0]


@key.command("remove")
@common_options
@click.argument("slot_id")
def remove_key(opts: Options, slot_id: str) -> None:
    """Remove the key slot SLOT_ID (an ID prefix); the last slot cannot be removed."""
    repo = open_repository(opts)
    slots = repo.slots()
    slot = _match(slots, slot_id)
    if len(slots) == 1:
        raise UsageError("refusing to remove the only key slot: nothing could open the backup")
    repo.remove_slot(slot.slot_id)
    note = ""
    if slot.kind == SlotKind.VAULT:
        note = (
            f"; the vault at {slot.meta.get(META_URL)} still holds the escrowed key of account "
            f"{slot.meta.get(META_ACCOUNT)!r}, which now opens nothing here"
        )
    if opts.json:
        emit_json({"removed": slot.slot_id, "kind": slot.kind.value})
    else:
        click.echo(f"removed {slot.kind.value} key slot {slot.slot_id[:12]}{note}")


@key.command("forget")
@common_options
def forget_key(opts: Options) -> None:
    """Forget the key that --remember kept for this repository."""
    backend = backend_for(opts)
    header, _sealed = read_config_header(backend)
    removed = remember.forget(header[5:])
    if opts.json:
        emit_json({"forgotten": removed})
    else:
        click.echo("forgot the remembered key" if removed else "no key was remembered")
