"""Lifecycle commands: ``forget``, ``prune``, ``unlock``, ``repair index|snapshots``, ``diff``,
``stats``. Each is thin: parse options, call the engine, print text or ``--json``.

Rules:
- ``forget`` and ``prune`` and both repairs hold an exclusive lock (the engine takes it for
  prune and repair, :func:`coffer.ops.forget.forget` for ``forget``); ``diff`` and ``stats`` a
  shared one; ``unlock`` none (it is how a stuck lock is cleared).
- Durations are written ``2y6M3w10d12h30m0s``; ``--max-unused`` is a percentage.
"""

from __future__ import annotations

from datetime import UTC, datetime

import click

from coffer.cli.context import Options, common_options, open_repository, resolve_snapshot
from coffer.cli.filter_options import resolve_filtered, snapshot_filter_options
from coffer.cli.output import BarProgress, emit_json, human_bytes, safe_text
from coffer.engine.locks import locked, remove_stale_locks
from coffer.engine.repository import Repository
from coffer.errors import UsageError
from coffer.ops.diff import diff as diff_snapshots
from coffer.ops.forget import forget, remove_with_record
from coffer.ops.prune import DEFAULT_GRACE, PruneOptions, PruneReport, prune
from coffer.ops.repair import repair_index, repair_snapshots
from coffer.ops.retention import GroupDecision, Policy, parse_duration
from coffer.ops.snapshot_filter import SnapshotFilter
from coffer.ops.stats import raw_stats, restore_stats


def _percent(text: str) -> float:
    try:
        value = float(text.strip().rstrip("%"))
    except ValueError:
        raise UsageError(f"invalid percentage {text!r}") from None
    if not 0 <= value <= 100:
        raise UsageError(f"--max-unused must be between 0% and 100%, not {text!r}")
    return value / 100


def _prune_options(max_unused: str, grace: str | None, dry_run: bool) -> PruneOptions:
    seconds = DEFAULT_GRACE if grace is None else parse_duration(grace).total_seconds()
    return PruneOptions(max_unused=_percent(max_unused), grace=seconds, dry_run=dry_run)


def _prune_json(r: PruneReport) -> dict[str, object]:
    out: dict[str, object] = dict(vars(r))
    out["pending_until"] = _iso(r.pending_until) if r.pending_until is not None else None
    return out


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")


def _print_prune(r: PruneReport, dry_run: bool) -> None:
    verb = "would condemn" if dry_run else "condemned"
    click.echo(
        f"{r.packs_total} packs; {verb} {r.packs_condemned} "
        f"({r.packs_repacked} repacked: {r.blobs_repacked} blobs, {human_bytes(r.bytes_repacked)})"
    )
    if r.plans_swept:
        click.echo(
            f"deleted {r.packs_deleted} packs ({human_bytes(r.bytes_deleted)}) and "
            f"{r.index_deleted} index objects; kept {r.packs_rescued} packs still needed"
        )
    if r.pending_until is not None:
        click.echo(f"condemned packs are deleted by a prune run after {_iso(r.pending_until)}")


def _run_prune(opts: Options, repo: Repository, options: PruneOptions) -> None:
    report = prune(repo, options, BarProgress(enabled=not (opts.quiet or opts.json)))
    if opts.json:
        emit_json(_prune_json(report))
    else:
        _print_prune(report, options.dry_run)


_MAX_UNUSED = click.option(
    "--max-unused", default="5%", show_default=True, help="repack packs with more unused than this"
)
_GRACE = click.option(
    "--grace",
    help="wait this long between marking and deleting (default 24h; 0s only if every client "
    "takes locks)",
)


@click.command("prune")
@common_options
@_MAX_UNUSED
@_GRACE
@click.option("--dry-run", is_flag=True, help="only report what would be condemned")
def prune_cmd(opts: Options, max_unused: str, grace: str | None, dry_run: bool) -> None:
    """Delete data no snapshot needs (mark now, delete after the grace period)."""
    repo = open_repository(opts)
    _run_prune(opts, repo, _prune_options(max_unused, grace, dry_run))


def _policy(keep: dict[str, int], within: str | None) -> Policy:
    return Policy(**keep, within=parse_duration(within) if within else None)


def _forget_json(decisions: list[GroupDecision]) -> list[dict[str, object]]:
    return [
        {
            "hostname": d.hostname,
            "paths": d.paths,
            "keep": [{"id": s.id, "time": s.time, "reasons": d.reasons[s.id]} for s in d.keep],
            "remove": [{"id": s.id, "time": s.time} for s in d.remove],
        }
        for d in decisions
    ]


def _print_forget(decisions: list[GroupDecision], dry_run: bool) -> None:
    for d in decisions:
        click.echo(f"host {d.hostname}, paths {', '.join(d.paths)}:")
        for s in d.keep:
            click.echo(f"  keep   {s.id[:8]}  {s.time[:19]}  ({', '.join(d.reasons[s.id])})")
        for s in d.remove:
            click.echo(f"  {'would remove' if dry_run else 'remove'} {s.id[:8]}  {s.time[:19]}")


@click.command("forget")
@common_options
@click.argument("snapshot_ids", nargs=-1, metavar="[ID]...")
@click.option("--keep-last", "last", type=int, default=0, help="keep the N newest")
@click.option("--keep-hourly", "hourly", type=int, default=0, help="keep the newest of N hours")
@click.option("--keep-daily", "daily", type=int, default=0, help="keep the newest of N days")
@click.option("--keep-weekly", "weekly", type=int, default=0, help="keep the newest of N weeks")
@click.option("--keep-monthly", "monthly", type=int, default=0, help="keep the newest of N months")
@click.option("--keep-yearly", "yearly", type=int, default=0, help="keep the newest of N years")
@click.option("--keep-within", "within", help="keep all within this duration of the newest")
@snapshot_filter_options()
@click.option("--dry-run", is_flag=True, help="show what would be removed")
@click.option("--prune", "then_prune", is_flag=True, help="prune afterwards")
@_MAX_UNUSED
@_GRACE
def forget_cmd(
    opts: Options,
    snapshot_ids: tuple[str, ...],
    within: str | None,
    snapshot_filter: SnapshotFilter,
    dry_run: bool,
    then_prune: bool,
    max_unused: str,
    grace: str | None,
    **keep: int,
) -> None:
    """Remove the snapshots given by ID (or a unique ID prefix), or those a retention policy
    does not keep (per host and paths)."""
    if snapshot_ids:
        if within or any(keep.values()):
            raise UsageError("give snapshot IDs or a --keep-* policy, not both")
        popts = _prune_options(max_unused, grace, False) if then_prune and not dry_run else None
        _forget_ids(opts, snapshot_ids, snapshot_filter, dry_run, popts)
        return
    policy = _policy(keep, within)
    popts = _prune_options(max_unused, grace, False) if then_prune and not dry_run else None
    repo = open_repository(opts)
    decisions = forget(repo, policy, dry_run=dry_run, wanted=snapshot_filter)
    pruned = None
    if popts is not None:
        pruned = prune(repo, popts, BarProgress(enabled=not (opts.quiet or opts.json)))
    if opts.json:
        doc = _forget_json(decisions)
        emit_json(doc if pruned is None else {"forget": doc, "prune": _prune_json(pruned)})
        return
    _print_forget(decisions, dry_run)
    if pruned is not None:
        _print_prune(pruned, False)


def _forget_ids(
    opts: Options,
    refs: tuple[str, ...],
    wanted: SnapshotFilter,
    dry_run: bool,
    popts: PruneOptions | None,
) -> None:
    """``forget ID...``: every reference must name one snapshot (the filter, if any, too)."""
    repo = open_repository(opts)
    with locked(repo, exclusive=not dry_run):
        chosen = {}
        for ref in refs:
            snap = resolve_filtered(repo, ref, wanted)[0]
            chosen[snap.id] = snap
        if not dry_run:
            remove_with_record(repo, list(chosen.values()))
    pruned = (
        prune(repo, popts, BarProgress(enabled=not (opts.quiet or opts.json))) if popts else None
    )
    if opts.json:
        doc: dict[str, object] = {"removed": list(chosen), "dry_run": dry_run}
        emit_json(doc if pruned is None else {"forget": doc, "prune": _prune_json(pruned)})
        return
    for snap in chosen.values():
        verb = "would remove" if dry_run else "removed"
        click.echo(f"{verb} snapshot {snap.id[:8]} ({snap.time[:19]}, {safe_text(snap.hostname)})")
    if pruned is not None:
        _print_prune(pruned, False)


@click.command("unlock")
@common_options
@click.option("--remove-all", is_flag=True, help="also remove locks that look alive")
def unlock_cmd(opts: Options, remove_all: bool) -> None:
    """Remove stale locks (a dead process on this host, or not refreshed for 30 min)."""
    repo = open_repository(opts)
    removed = remove_stale_locks(repo, all_locks=remove_all)
    if opts.json:
        emit_json({"removed": removed})
    else:
        click.echo(f"removed {removed} lock(s)")


@click.group("repair")
def repair_group() -> None:
    """Repair a damaged repository."""


@repair_group.command("index")
@common_options
def repair_index_cmd(opts: Options) -> None:
    """Rebuild the index from the pack headers in data/."""
    repo = open_repository(opts)
    r = repair_index(repo)
    if opts.json:
        emit_json(vars(r))
        return
    for d in r.damaged:
        click.echo(f"warning: {d}", err=True)
    click.echo(f"indexed {r.packs} packs ({r.blobs} blobs); removed {r.index_deleted} old objects")


@repair_group.command("snapshots")
@common_options
@click.option("--dry-run", is_flag=True, help="only show which files would be removed")
def repair_snapshots_cmd(opts: Options, dry_run: bool) -> None:
    """Remove files whose data is missing from snapshots; mark them 'repaired'."""
    repo = open_repository(opts)
    r = repair_snapshots(repo, dry_run=dry_run)
    if opts.json:
        emit_json(
            {"checked": r.checked, "damaged": r.damaged, "repaired": [vars(x) for x in r.repaired]}
        )
        return
    for d in r.damaged:
        click.echo(f"warning: cannot read {d}", err=True)
    for x in r.repaired:
        target = "(dry run)" if dry_run else f"-> {x.replacement[:8]}"
        click.echo(f"snapshot {x.original[:8]} {target}: removed {len(x.removed)} file(s)")
        for path in x.removed:
            click.echo(f"  {path}")
    click.echo(f"checked {r.checked} snapshots, repaired {len(r.repaired)}")


@click.command("diff")
@common_options
@click.argument("first")
@click.argument("second")
def diff_cmd(opts: Options, first: str, second: str) -> None:
    """Show paths added, removed and modified from snapshot FIRST to SECOND."""
    repo = open_repository(opts)
    with locked(repo):
        a = repo.load_snapshot(resolve_snapshot(repo, first))
        b = repo.load_snapshot(resolve_snapshot(repo, second))
    result = diff_snapshots(a, b)
    if opts.json:
        emit_json(
            {
                "first": a.id,
                "second": b.id,
                "changes": [c.to_json() for c in result.changes],
                "added": result.count("added"),
                "removed": result.count("removed"),
                "modified": result.count("modified"),
                "bytes_added": result.bytes_added,
                "bytes_removed": result.bytes_removed,
            }
        )
        return
    marks = {"added": "+", "removed": "-", "modified": "M"}
    for c in result.changes:
        size = (
            ""
            if c.type != "file"
            else f"  {human_bytes(c.size_before)} -> {human_bytes(c.size_after)}"
        )
        click.echo(f"{marks[c.kind]}  {c.path}{size}")
    click.echo(
        f"{result.count('added')} added, {result.count('removed')} removed, "
        f"{result.count('modified')} modified; +{human_bytes(result.bytes_added)} "
        f"-{human_bytes(result.bytes_removed)}"
    )


@click.command("stats")
@common_options
@click.argument("snapshots", nargs=-1)
@click.option("--mode", type=click.Choice(["raw", "restore"]), default="restore", show_default=True)
def stats_cmd(opts: Options, snapshots: tuple[str, ...], mode: str) -> None:
    """Repository size on storage (raw) or the size the snapshots restore to (restore)."""
    repo = open_repository(opts)
    with locked(repo):
        ids = [resolve_snapshot(repo, s) for s in snapshots] or repo.snapshot_ids()
        snaps = [repo.load_snapshot(i) for i in ids]
        if mode == "raw":
            repo.load_index()
            raw = raw_stats(repo, snaps)
    if mode == "raw":
        if opts.json:
            emit_json(raw.to_json())
            return
        click.echo(f"packs:       {raw.packs} ({human_bytes(raw.pack_bytes)})")
        click.echo(f"blobs:       {raw.blobs} ({human_bytes(raw.blob_bytes_raw)} uncompressed)")
        click.echo(f"compression: {raw.compression_ratio:.2f}x  dedup: {raw.dedup_ratio:.2f}x")
        click.echo(f"snapshots:   {raw.snapshots}, index objects: {raw.index_objects}")
        return
    rs = restore_stats(snaps)
    if opts.json:
        emit_json(rs.to_json())
        return
    click.echo(f"{rs.snapshots} snapshots restore {rs.files} files in {rs.dirs} folders")
    click.echo(f"total size: {human_bytes(rs.bytes)}")


COMMANDS = [forget_cmd, prune_cmd, unlock_cmd, repair_group, diff_cmd, stats_cmd]
