"""``coffer find PATTERN...``: which snapshots hold entries whose name or path matches.

Matching rules: :mod:`coffer.ops.find`. Every snapshot the filters (``--host``, ``--tag``,
``--path``) keep is searched, or only those named with ``-s``; snapshots are read under a
shared lock, oldest first. A snapshot whose tree cannot be read is reported and skipped, and
the command then ends with exit code 12.
"""

from __future__ import annotations

import stat

import click

from coffer.cli.context import Options, common_options, open_repository
from coffer.cli.filter_options import resolve_filtered, snapshot_filter_options
from coffer.cli.output import emit_json, human_bytes, human_time, safe_text, warn
from coffer.engine.locks import locked
from coffer.engine.snapshot import Node, Snapshot
from coffer.errors import IntegrityError
from coffer.ops.find import Finder
from coffer.ops.listing import list_snapshots
from coffer.ops.snapshot_filter import SnapshotFilter


def _entry(path: str, node: Node) -> dict[str, object]:
    kind = {"dir": stat.S_IFDIR, "symlink": stat.S_IFLNK}.get(node.type, stat.S_IFREG)
    return {
        "path": path,
        "type": node.type,
        "mode": stat.filemode(node.mode | kind),
        "size": node.size if node.type == "file" else 0,
        "mtime_ns": node.mtime_ns,
    }


def _print(snap: Snapshot, hits: list[dict[str, object]]) -> None:
    click.echo(
        f"found {len(hits)} in snapshot {snap.id[:8]} from {human_time(snap.time)} "
        f"({safe_text(snap.hostname)})"
    )
    for hit in hits:
        size = human_bytes(int(str(hit["size"]))) if hit["type"] == "file" else ""
        click.echo(f"  {hit['mode']} {size:>11}  {safe_text(str(hit['path']))}")


@click.command("find")
@common_options
@click.argument("patterns", nargs=-1, required=True, metavar="PATTERN...")
@click.option(
    "-s", "--snapshot", "refs", multiple=True, metavar="ID",
    help="search only this snapshot (repeatable; default: all)",
)  # fmt: skip
@click.option("-i", "--ignore-case", is_flag=True, help="match regardless of case")
@snapshot_filter_options()
def command(
    opts: Options,
    patterns: tuple[str, ...],
    refs: tuple[str, ...],
    ignore_case: bool,
    snapshot_filter: SnapshotFilter,
) -> None:
    """Find entries whose name matches PATTERN (a path, if it contains '/') in the snapshots."""
    finder = Finder.compile(patterns, fold_case=ignore_case)
    repo = open_repository(opts)
    found, unreadable = [], []
    with locked(repo):
        repo.load_index()
        if refs:
            snaps = [resolve_filtered(repo, ref, snapshot_filter)[0] for ref in refs]
        else:
            listing = list_snapshots(repo, with_times=False)
            for line in listing.warnings():
                warn(line)
            snaps = snapshot_filter.apply(listing.snapshots)
        for snap in snaps:
            try:
                hits = [_entry(p, n) for p, n in finder.matches(snap.tree)]
            except IntegrityError as exc:
                warn(f"snapshot {snap.id[:8]}: cannot read its tree: {exc}")
                unreadable.append(snap.id)
                continue
            if hits:
                found.append((snap, hits))
    if opts.json:
        emit_json([{"snapshot": s.id, "hits": len(h), "matches": h} for s, h in found])
    else:
        for snap, hits in found:
            _print(snap, hits)
        if not found:
            click.echo(f"no match in {len(snaps)} snapshot(s)")
    if unreadable:
        raise IntegrityError(f"{len(unreadable)} snapshot tree(s) could not be read")
