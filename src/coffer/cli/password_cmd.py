"""``coffer password set|change|remove``: manage the password route of a repository.

Rules:

- ``set`` opens the repository by any route (usually the recovery key), escrows a fresh V in
  the vault behind the new password and adds a vault slot. One password slot per vault account.
- ``change`` never touches the repository: the vault replaces its OPAQUE record atomically
  (login with the old password, re-registration with the new one, same V), so the slot stays
  valid and no object — pack, index, snapshot or key slot — is rewritten.
- ``remove`` refuses when no other slot would remain (the data would be lost for good); else it
  opens the repository with the password (proving it is this repository's key), deletes the
  vault record, then removes the vault slot(s) of that account.
- The vault is reached before any password is asked for, and the current password goes through
  the stale-password guard (:mod:`coffer.unlock.password_route`): a given one that already
  failed here is not sent again.
- The new password comes from ``--new-password-file``, ``COFFER_NEW_PASSWORD`` or a prompt
  asked twice, and must pass the strength check; the current one from ``--password-file``,
  ``COFFER_PASSWORD`` or a prompt.
"""

from __future__ import annotations

from pathlib import Path

import click

from coffer.backends.base import Backend, ObjectType
from coffer.cli.context import Options, backend_for, common_options, open_repository
from coffer.cli.output import emit_json
from coffer.cli.password_input import read_new_password
from coffer.cli.unlock import TerminalPrompter
from coffer.crypto.slots import SlotInfo, SlotKind
from coffer.engine.repository import list_slots, read_config_header
from coffer.errors import UsageError
from coffer.unlock import Given, VaultTarget, open_with_password
from coffer.unlock import vault_route as unlock
from coffer.unlock.password_route import PasswordRoute
from coffer.unlock.strength import account_hints

_new_password_option = click.option(
    "--new-password-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="file holding the new password (or COFFER_NEW_PASSWORD)",
)


_NEW_FLAGS = "--new-password-file, COFFER_NEW_PASSWORD"


@click.group("password")
def password() -> None:
    """Set, change or remove the password that opens a repository through the key vault."""


def _route(opts: Options) -> tuple[Backend, list[SlotInfo], PasswordRoute]:
    """The repository's slots and its password route, the vault reached before any prompt."""
    backend = backend_for(opts)
    header, _sealed = read_config_header(backend)
    slots = list_slots(backend)
    route = PasswordRoute(header[5:], slots, opts.vault)
    route.check_reachable()
    return backend, slots, route


def _current_password(opts: Options, route: PasswordRoute) -> tuple[bytes, Given | None]:
    """The current password: given (unless it already failed here) or typed."""
    first = route.first_password(opts.secrets, TerminalPrompter(), recovery_fallback=False)
    if first is None:  # not offered without recovery_fallback; kept for the type
        raise UsageError("a password is needed")
    return first


def _done(opts: Options, text: str, **data: str) -> None:
    if opts.json:
        emit_json(data)
    else:
        click.echo(text)


def _new_password(opts: Options, path: Path | None, account: str) -> bytes:
    opts.secrets.new_password_file = path
    given = opts.secrets.new_password()
    return read_new_password(given, _NEW_FLAGS, account_hints(account))


@password.command("set")
@common_options
@_new_password_option
def set_password(opts: Options, new_password_file: Path | None) -> None:
    """Add a password slot (the repository is opened with an existing key first)."""
    target = opts.vault
    url, account = unlock.require_target(target)
    repo = open_repository(opts, VaultTarget())  # the existing slots' own vault notes
    if unlock.has_slot_for(repo.slots(), url, account):
        raise UsageError(
            f"this repository already has a password slot for account {account!r} at {url}; "
            "use `coffer password change`"
        )
    unlock.check_vault(target, account_free=True)  # before the new password is asked
    new = _new_password(opts, new_password_file, account)
    secret, meta = unlock.escrow_new_secret(target, new)
    slot_id = repo.add_slot(SlotKind.VAULT, secret, meta)
    _done(
        opts,
        f"added password slot {slot_id[:12]}: key escrowed for account {account!r} at {url} "
        f"(vault key {meta[unlock.META_FINGERPRINT]})",
        key_slot=slot_id,
        **meta,
    )


@password.command("change")
@common_options
@_new_password_option
def change_password(opts: Options, new_password_file: Path | None) -> None:
    """Replace the password at the vault; the repository is not touched."""
    _backend, _slots, guarded = _route(opts)
    route = guarded.route
    old, given = _current_password(opts, guarded)
    new = _new_password(opts, new_password_file, route.account)
    if new == old:
        raise UsageError("the new password is the same as the current one")

    def change() -> None:
        with (
            unlock.vault_errors(route.describe(), guarded.has_recovery),
            unlock.vault_client(route.url, route.key) as client,
        ):
            client.change_password(route.account, old, new)

    guarded.spend(old, given, change)
    _done(
        opts,
        f"password changed for {route.describe()}; the repository was not modified "
        "(its password slot stays valid)",
        vault_url=route.url,
        account=route.account,
    )


@password.command("remove")
@common_options
def remove_password(opts: Options) -> None:
    """Delete the vault record and the password slot (another slot must remain)."""
    backend, slots, guarded = _route(opts)
    route = guarded.route
    remaining = [s for s in slots if s.slot_id not in route.slot_ids]
    if not remaining:
        raise UsageError(
            "refusing: the password slot is this repository's only key slot, and without it "
            "nothing could ever open the backup again; add a recovery key first "
            "(`coffer key add-recovery`)"
        )
    target = VaultTarget(route.url, route.account, route.key)
    pw, given = _current_password(opts, guarded)
    guarded.spend(pw, given, lambda: open_with_password(backend, slots, target, pw))
    has_recovery = any(s.kind == SlotKind.RECOVERY for s in remaining)
    with (
        unlock.vault_errors(route.describe(), has_recovery),
        unlock.vault_client(route.url, route.key) as client,
    ):
        client.delete(route.account, pw)
    for slot_id in route.slot_ids:
        backend.remove(ObjectType.KEYS, slot_id)
    _done(
        opts,
        f"deleted the vault record of {route.describe()} and removed key slot(s) "
        + ", ".join(s[:12] for s in route.slot_ids),
        vault_url=route.url,
        account=route.account,
        removed=",".join(route.slot_ids),
    )
