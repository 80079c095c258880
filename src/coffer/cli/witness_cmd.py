"""``coffer witness set URL | remove | show``: the repository's freshness witness.

Rules:
- The setting lives in the repository's sealed config (:mod:`coffer.freshness.witness_link`
  gives the order: the setting, else the password slot's vault, else this device's memory), so
  every device that opens the repository uses it; this device's record remembers it too.
- ``set`` reaches the witness first (its key pinned on first use, like a vault's), then stores
  the setting, then reports every writer's newest object to it, so a new device learns the
  current state at once. An unreachable witness changes nothing (exit 15).
- ``remove`` stores "none": same-device protection only, even for a password repository.
- ``show`` says which witness is used and why, and whether it answers.
"""

from __future__ import annotations

import click

from coffer.cli.context import Options, common_options, open_repository
from coffer.cli.output import emit_json
from coffer.engine.repository import Repository, list_slots
from coffer.errors import CofferError, UsageError
from coffer.freshness.record import RecordStore
from coffer.freshness.witness_link import NO_WITNESS, WitnessLink, catch_up, witness_url
from coffer.freshness.witness_proto import WitnessKeys


@click.group("witness")
def witness() -> None:
    """The freshness witness: who, besides this device, remembers the newest backup."""


def check_url(url: str) -> str:
    if not url.lower().startswith(("http://", "https://")):
        raise UsageError(f"a witness address must start with http:// or https://, not {url!r}")
    return url.rstrip("/")


@witness.command("set")
@common_options
@click.argument("url")
def set_cmd(opts: Options, url: str) -> None:
    """Use the key vault at URL as this repository's witness (for a recovery-key repository,
    the way to protect a new device too)."""
    url = check_url(url)
    repo = open_repository(opts)
    repo.require_writable()
    key = opts.vault.key if (opts.vault.url or "").rstrip("/") == url else None
    link = WitnessLink(url, repo.derive(WitnessKeys.derive), key)
    link.read()  # reachable, its key pinned, and no one else's record under this ID
    repo.set_witness(url)
    sent, failed = catch_up(repo, link)
    with RecordStore(repo.repo_id).update() as record:
        record.witness = url
    for line in failed:
        click.echo(f"coffer: warning: not reported to the witness: {line}", err=True)
    if opts.json:
        emit_json({"witness": url, "rows_sent": sent, "failed": failed})
        return
    click.echo(f"witness of repository {repo.repo_id.hex()[:8]}: {url} ({sent} writer(s) reported)")


@witness.command("remove")
@common_options
def remove_cmd(opts: Options) -> None:
    """Use no witness: rollbacks are then detected only by devices that saw the newer state."""
    repo = open_repository(opts)
    repo.require_writable()
    repo.set_witness(NO_WITNESS)
    with RecordStore(repo.repo_id).update() as record:
        record.witness = None
    if opts.json:
        emit_json({"witness": None})
        return
    click.echo("no witness: same-device protection only")


@witness.command("show")
@common_options
def show_cmd(opts: Options) -> None:
    """Which witness this repository uses, why, and whether it answers."""
    repo = open_repository(opts)
    record = RecordStore(repo.repo_id).load()
    remembered = record.witness if record is not None else None
    url, key = witness_url(repo, list_slots(repo.backend), opts.vault, remembered)
    doc: dict[str, object] = {"witness": url, "source": _source(repo, url, remembered)}
    if url:
        link = WitnessLink(url, repo.derive(WitnessKeys.derive), key)
        try:
            doc["writers"] = len(link.read())
            doc["reachable"] = True
        except CofferError as exc:
            doc["reachable"], doc["error"] = False, str(exc)
    if record is not None:
        doc["device_writer"] = record.writer
        doc["device_seq"] = record.own_seq
        doc["update_pending"] = record.witness_pending
    if opts.json:
        emit_json(doc)
        return
    _print(doc)


def _source(repo: Repository, url: str | None, remembered: str | None) -> str:
    if not url:
        return "none"
    if repo.params.witness and repo.params.witness != NO_WITNESS:
        return "repository setting"
    if url == remembered and not any(s.meta.get("vault_url") for s in list_slots(repo.backend)):
        return "this device's record"
    return "the password slot's key vault"


def _print(doc: dict[str, object]) -> None:
    if not doc["witness"]:
        click.echo("witness: none — same-device protection only (`coffer witness set URL`)")
    else:
        click.echo(f"witness: {doc['witness']} ({doc['source']})")
        if doc.get("reachable"):
            click.echo(f"  reachable; it holds rows for {doc['writers']} writer(s)")
        else:
            click.echo(f"  not reachable: {doc.get('error')}")
    if "device_writer" in doc:
        pending = " (witness update pending)" if doc["update_pending"] else ""
        click.echo(
            f"this device: writer {str(doc['device_writer'])[:8]}, "
            f"counter {doc['device_seq']}{pending}"
        )
