"""``coffer restore SNAPSHOT --target DIR [--path P]... [--overwrite MODE] [--delete]
[--dry-run] [--verify]``.

What the options mean is decided in :mod:`coffer.ops.restore` (the walk),
:mod:`coffer.ops.restore_plan` (``--overwrite``) and :mod:`coffer.ops.select` (``--path``); this
module turns the result into what the user reads and the exit code:
12 when data in the repository is damaged, 14 when the target is full, 17 when entries could not
be written (or are open in another process, or ``--verify`` found differences), else 0.
"""

from __future__ import annotations

from pathlib import Path

import click

from coffer.cli import jsonstream
from coffer.cli.context import Options, common_options, open_repository
from coffer.cli.filter_options import resolve_filtered, snapshot_filter_options
from coffer.cli.jsonstream import progress_for
from coffer.cli.ls_cmd import user_paths
from coffer.cli.output import human_bytes, human_time, plural, safe_text
from coffer.cli.output import warn as print_warning
from coffer.engine.locks import locked
from coffer.engine.repository import Repository
from coffer.engine.snapshot import Node, Snapshot
from coffer.errors import IntegrityError, RestoreIncomplete
from coffer.ops import select
from coffer.ops.restore import RestoreOptions, RestoreResult, restore
from coffer.ops.restore_plan import DEFAULT_OVERWRITE, OVERWRITE_MODES
from coffer.ops.restore_verify import VerifyReport, verify_restored
from coffer.ops.snapshot_filter import SnapshotFilter

_SHOWN = 5  # entries listed by name in a summary line
_VERBS = {
    "create": "create",
    "replace": "replace",
    "delete": "delete",
    "keep": "keep (exists)",
    "in-use": "leave (in use)",
}


def _names(entries: list[str]) -> str:
    shown = ", ".join(safe_text(e) for e in entries[:_SHOWN])
    return shown + (f" and {len(entries) - _SHOWN} more" if len(entries) > _SHOWN else "")


def _counts(result: RestoreResult, dry_run: bool) -> str:
    would = "would " if dry_run else ""
    made = f"{would}create {result.count('create')}, replace {result.count('replace')}"
    gone = f", delete {result.count('delete')}" if result.count("delete") else ""
    return f"{made}{gone}; {result.count('unchanged')} unchanged, {result.count('keep')} kept"


def _database_note(snap: Snapshot, result: RestoreResult, target: Path) -> str | None:
    if not result.databases:
        return None
    return (
        f"note: {plural(len(result.databases), 'database')} restored ({_names(result.databases)}): "
        "a restored database opens with the snapshot's schema and rows, but its bytes differ "
        "from the original file (logical mode rebuilds it; page mode restores the consistent "
        "copy, whose header counters differ). Compare by content: "
        f"coffer restore {snap.id[:8]} --target {safe_text(str(target))} --verify"
    )


def _print(snap: Snapshot, target: Path, result: RestoreResult, opts: RestoreOptions) -> None:
    if opts.dry_run:
        for action, rel in result.actions:
            if action in _VERBS:
                click.echo(f"would {_VERBS[action]:<15} {safe_text(rel)}")
        click.echo(f"dry run of snapshot {snap.id[:8]} into {safe_text(str(target))}: "
                   f"{_counts(result, True)} — nothing was written")  # fmt: skip
        return
    click.echo(
        f"restored snapshot {snap.id[:8]} of {human_time(snap.time)} into "
        f"{safe_text(str(target))}: {_counts(result, False)}; "
        f"{plural(result.files, 'file')} written ({human_bytes(result.bytes)})"
    )
    kept = [rel for action, rel in result.actions if action == "keep"]
    if kept:
        click.echo(f"  kept as they are (--overwrite {opts.overwrite}): {_names(kept)}")
    for entry in result.companions:
        moved = ", ".join(safe_text(str(m)) for m in entry["moved"])  # type: ignore[attr-defined]
        click.echo(
            f"  moved aside {moved} beside {safe_text(str(entry['path']))}: a restored database "
            "must not replay another database's journal"
        )
    note = _database_note(snap, result, target)
    if note:
        click.echo(note)


def _json(snap: Snapshot, target: Path, result: RestoreResult, report: VerifyReport | None) -> None:
    counts = {a: result.count(a) for a in ("create", "replace", "unchanged", "keep", "delete")}
    jsonstream.summary(
        {
            "snapshot": snap.id,
            "target": str(target),
            "files": result.files,
            "dirs": result.dirs,
            "symlinks": result.symlinks,
            "bytes": result.bytes,
            "counts": counts,
            "actions": [{"action": a, "path": p} for a, p in result.actions],
            "companions_moved": result.companions,
            "databases": result.databases,
            "errors": result.errors,
            "verify": None if report is None else {"files": report.files,
                                                   "problems": report.problems},
        }
    )  # fmt: skip


def _verify(
    repo: Repository, snap: Snapshot, nodes: list[Node], target: Path, quiet: bool
) -> VerifyReport:
    report = verify_restored(repo, nodes, target)
    if not quiet:
        for p in report.problems:
            print_warning(f"{p['path']}: {p['problem']}")
        verdict = "all match" if report.ok else f"{plural(len(report.problems), 'difference')}"
        click.echo(
            f"verified {plural(report.files, 'file')} against snapshot {snap.id[:8]} "
            f"({plural(report.databases, 'database')} by content, not bytes): {verdict}"
        )
    return report


def _raise_for(result: RestoreResult, report: VerifyReport | None) -> None:
    if result.damaged:
        raise IntegrityError(
            f"{plural(len(result.damaged), 'entry', 'entries')} not restored because their data "
            "in the repository is damaged: " + _names([e["path"] for e in result.damaged])
        )
    if result.incomplete:
        raise RestoreIncomplete(
            f"{plural(len(result.incomplete), 'entry', 'entries')} not restored (see the "
            "warnings above): " + _names([e["path"] for e in result.incomplete])
        )
    if report is not None and not report.ok:
        raise RestoreIncomplete(
            f"the target differs from the snapshot in "
            f"{plural(len(report.problems), 'entry', 'entries')}: "
            + _names([p["path"] for p in report.problems])
        )


@click.command("restore")
@common_options
@click.argument("snapshot")
@click.option("--target", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--path",
    "subpaths",
    multiple=True,
    help="restore only this entry, at its place below TARGET (repeatable; as `ls` or "
    "`snapshots` print it)",
)
@click.option(
    "--overwrite",
    type=click.Choice(OVERWRITE_MODES),
    default=DEFAULT_OVERWRITE,
    show_default=True,
    help="what to do with entries TARGET already has: never touch them, replace them if they "
    "differ (type, size, mtime), if the snapshot's is newer, or always",
)
@click.option("--delete", is_flag=True, help="remove entries the snapshot does not have")
@click.option("--dry-run", is_flag=True, help="list what would be done; write nothing")
@click.option("--verify", is_flag=True, help="then compare TARGET with the snapshot by content")
@click.option("--strict", is_flag=True, help="stop at the first entry that cannot be restored")
@snapshot_filter_options(path_flag="--snapshot-path")
def command(
    opts: Options,
    snapshot: str,
    target: Path,
    subpaths: tuple[str, ...],
    overwrite: str,
    delete: bool,
    dry_run: bool,
    verify: bool,
    strict: bool,
    snapshot_filter: SnapshotFilter,
) -> None:
    """Restore SNAPSHOT (an ID prefix or 'latest') into the folder TARGET.

    Entries TARGET already has are kept unless --overwrite says otherwise. A file another
    process has open for writing is never replaced (Linux: found through /proc; processes of
    other users are visible only to root). With --dry-run --verify, an earlier restore is
    checked without writing anything.
    """
    repo = open_repository(opts)
    progress = progress_for(opts)
    with locked(repo):
        repo.load_index()
        snap, warnings = resolve_filtered(repo, snapshot, snapshot_filter)
        for line in warnings:
            print_warning(line)
        ropts = RestoreOptions(
            paths=user_paths(snap, list(subpaths)), overwrite=overwrite, delete=delete,
            dry_run=dry_run, strict=strict,
        )  # fmt: skip
        result = restore(repo, snap, target, options=ropts, progress=progress)
        report = None
        if verify and (target.is_dir() or not dry_run):
            nodes = select.select(snap, ropts.paths)[0] if ropts.paths else snap.tree
            report = _verify(repo, snap, nodes, target, opts.json)
    if opts.json:
        _json(snap, target, result, report)
    else:
        _print(snap, target, result, ropts)
    _raise_for(result, report)
