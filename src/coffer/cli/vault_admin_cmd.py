"""Operator commands of ``coffer vault``: stored settings, accounts, seal rotation, housekeeping.

Rules: each command opens the vault database directly (it needs no running node) and every
change it makes is written with an audit row in the same transaction (client ``operator``):

- ``settings show`` / ``settings set`` — the deployment's security settings; running nodes pick
  a change up within seconds.
- ``accounts list`` / ``show`` / ``delete`` — names, states, attempts left, KSF, generation;
  never a record or a secret. ``delete`` frees a name (a locked one too). There is deliberately
  no command that resets or raises a guess counter: only a verified login restores it.
- ``rotate-seal`` — re-seal the server secrets under a new key file or PKCS#11 key; nobody
  re-registers.
- ``housekeeping`` — sweep expired attempts and idle ghosts, prune the audit log (every node
  also does this on its own every 10 minutes).
"""

from __future__ import annotations

import datetime
import getpass
import json
import socket
import time
from typing import Any

import click

from coffer.cli.vault_options import (
    fail,
    make_sealer,
    seal_options,
    settings_from_flags,
    settings_options,
    store_options,
)
from coffer.errors import CofferError
from coffer.vault.store import AuditContext


def _operator() -> AuditContext:
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    return AuditContext(f"operator:{who}", socket.gethostname())


def _open(database: str, pg_schema: str) -> Any:
    from coffer.vault.server import open_store

    store = open_store(database, pg_schema=pg_schema)
    store.create_schema()
    return store


@click.group("settings")
def settings_group() -> None:
    """Show or change the security settings stored in the vault database."""


@settings_group.command("show")
@store_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def settings_show(database: str, pg_schema: str, as_json: bool) -> None:
    """Print the stored settings every node runs on."""
    from coffer.vault.server import load_settings

    try:
        doc = load_settings(_open(database, pg_schema)).stored()
    except CofferError as exc:
        raise fail(exc) from None
    if as_json:
        click.echo(json.dumps(doc, indent=2, sort_keys=True))
        return
    for key in sorted(doc):
        click.echo(f"{key:22} {json.dumps(doc[key])}")


@settings_group.command("set")
@store_options
@settings_options
def settings_set(database: str, pg_schema: str, **flags: Any) -> None:
    """Change stored settings (audited); every node follows within seconds."""
    from coffer.vault.server import load_settings, save_settings

    try:
        store = _open(database, pg_schema)
        new = settings_from_flags(load_settings(store), flags)
        changed = save_settings(store, new, _operator())
    except CofferError as exc:
        raise fail(exc) from None
    if not changed:
        click.echo("no setting changed")
        return
    for key in changed:
        click.echo(f"set {key} = {json.dumps(new.stored()[key])}")
    if "max_attempts" in changed:
        click.echo("max_attempts applies to accounts registered from now on")


@click.group("accounts")
def accounts_group() -> None:
    """List, inspect or delete accounts (never shows a record or a secret)."""


def _when(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


@accounts_group.command("list")
@store_options
@click.option("--state", type=click.Choice(["active", "locked", "ghost"]), default=None)
@click.option("--prefix", default="", help="Only names starting with this.")
@click.option("--limit", type=click.IntRange(1, 100000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def accounts_list(
    database: str, pg_schema: str, state: str | None, prefix: str, limit: int, as_json: bool
) -> None:
    """Accounts in name order, with a count per state."""
    from coffer.vault import store_admin

    try:
        store = _open(database, pg_schema)
        rows = store_admin.list_accounts(store, state=state, prefix=prefix, limit=limit)
        counts = store_admin.count_accounts(store)
    except CofferError as exc:
        raise fail(exc) from None
    if as_json:
        click.echo(json.dumps({"counts": counts, "accounts": [r.__dict__ for r in rows]}))
        return
    click.echo(f"{'account':32} {'state':7} {'left':>9} {'gen':>4}  last change")
    for r in rows:
        left = f"{r.attempts_left}/{r.max_attempts}"
        click.echo(f"{r.account:32} {r.state:7} {left:>9} {r.generation:>4}  {_when(r.updated_at)}")
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no accounts"
    click.echo(f"({summary})")


@accounts_group.command("show")
@store_options
@click.argument("account")
def accounts_show(database: str, pg_schema: str, account: str) -> None:
    """One account: state, attempts left, KSF, generation, pending attempts, last events."""
    from coffer.vault import store_admin

    try:
        store = _open(database, pg_schema)
        info = store_admin.show_account(store, account)
        events = store.audit_events(account)[-10:] if info else []
    except CofferError as exc:
        raise fail(exc) from None
    if info is None:
        raise click.ClickException(f"no account {account!r}")
    for key, value in info.__dict__.items():
        shown = _when(value) if key == "updated_at" else value
        click.echo(f"{key:14} {shown}")
    for e in events:
        click.echo(f"  {_when(e['ts'])} {e['event']:16} left={e['attempts_left']} {e['client']}")


@accounts_group.command("delete")
@store_options
@click.argument("account")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def accounts_delete(database: str, pg_schema: str, account: str, yes: bool) -> None:
    """Delete an account and its escrowed secret (audited); the name becomes free."""
    from coffer.vault import store_admin

    if not yes:
        click.confirm(f"delete account {account!r} and its escrowed key for good?", abort=True)
    try:
        deleted = store_admin.delete_account(_open(database, pg_schema), account, _operator())
    except CofferError as exc:
        raise fail(exc) from None
    if not deleted:
        raise click.ClickException(f"no account {account!r}")
    click.echo(f"deleted account {account!r}")


@click.command("rotate-seal")
@store_options
@seal_options
@(lambda f: seal_options(f, prefix="to-", what=" to seal with from now on"))
def rotate_seal_cmd(database: str, pg_schema: str, **opts: Any) -> None:
    """Re-seal the server secrets under a new key (key file or PKCS#11); nobody re-registers."""
    from coffer.cli.vault_cmd import _seal_args
    from coffer.vault.server import rotate_seal

    if not opts["to_key_file"] and not opts["to_pkcs11_lib"]:
        raise click.UsageError("give the new seal: --to-key-file or --to-pkcs11-lib")
    try:
        store = _open(database, pg_schema)
        old = make_sealer(*_seal_args(opts), create=False)
        new = make_sealer(*_seal_args(opts, "to_"), create=True)
        setup = rotate_seal(store, old, new, _operator())
    except CofferError as exc:
        raise fail(exc) from None
    from coffer.vault._crypto import fingerprint

    click.echo(f"server secrets of vault {fingerprint(setup.public_key)} re-sealed with {new!r}")
    click.echo("restart every node with the new seal options; then retire the old key")


@click.command("housekeeping")
@store_options
def housekeeping_cmd(database: str, pg_schema: str) -> None:
    """Expire attempts, sweep idle ghosts and prune the audit log now."""
    from coffer.vault import store_admin
    from coffer.vault.server import load_settings

    try:
        store = _open(database, pg_schema)
        s, now, ctx = load_settings(store), time.time(), _operator()
        locked = store.sweep(now, ctx)
        ghosts = store_admin.sweep_ghosts(store, now, s.ghost_ttl_days, ctx)
        pruned = store_admin.prune_audit(store, now, s.audit_retention_days, ctx)
        store_admin.sweep_rate_limits(store, now)
    except CofferError as exc:
        raise fail(exc) from None
    click.echo(f"locked {locked} account(s); swept {ghosts} ghost(s); pruned {pruned} audit row(s)")


def register_admin_commands(group: click.Group) -> None:
    for command in (settings_group, accounts_group, rotate_seal_cmd, housekeeping_cmd):
        group.add_command(command)
