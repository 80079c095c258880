"""``coffer snapshots``: list snapshots, oldest first; damaged objects are named on stderr."""

from __future__ import annotations

import click

from coffer.cli.context import Options, common_options, open_repository
from coffer.cli.filter_options import snapshot_filter_options
from coffer.cli.output import emit_json, human_bytes, human_time, plural, safe_text, warn
from coffer.engine.snapshot import Snapshot, walk
from coffer.ops.listing import list_snapshots
from coffer.ops.snapshot_filter import SnapshotFilter


def _size(s: Snapshot) -> int:
    """Bytes of the files: from the summary (newer backups), else from the tree (read once)."""
    total = s.summary.get("bytes_total")
    if isinstance(total, int):
        return total
    return sum(n.size for _, n in walk(s.tree) if n.type == "file")


def _row(s: Snapshot) -> dict[str, object]:
    return {
        "id": s.id,
        "time": s.time,
        "hostname": s.hostname,
        "paths": s.paths,
        "tags": s.tags,
        "size": _size(s),
        "parent": s.parent,
        "skipped": len(s.skipped),
        "summary": s.summary,
    }


@click.command("snapshots")
@common_options
@snapshot_filter_options()
def command(opts: Options, snapshot_filter: SnapshotFilter) -> None:
    """List the snapshots in the repository (and name any that cannot be read)."""
    repo = open_repository(opts)
    listing = list_snapshots(repo, with_times=False)
    for line in listing.warnings():
        warn(line)
    listing.snapshots = snapshot_filter.apply(listing.snapshots)
    if opts.json:
        emit_json([_row(s) for s in listing.snapshots])
        return
    if not listing.snapshots:
        if not snapshot_filter.empty:
            click.echo(f"no snapshot matches {snapshot_filter.describe()}")
        else:
            click.echo("no snapshots" if not listing.damaged else "no readable snapshots")
        return
    click.echo(f"{'ID':<10}{'time':<27}{'host':<16}{'size':>11}  paths")
    for s in listing.snapshots:
        size = human_bytes(_size(s))
        paths = ", ".join(safe_text(p) for p in s.paths)
        host = safe_text(s.hostname)[:15]
        click.echo(f"{s.id[:8]:<10}{human_time(s.time):<27}{host:<16}{size:>11}  {paths}")
    damaged = f", {plural(len(listing.damaged), 'damaged object')}" if listing.damaged else ""
    click.echo(plural(len(listing.snapshots), "snapshot") + damaged)
