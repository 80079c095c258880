"""``coffer ls SNAPSHOT [PATH]``: list the files of a snapshot.

Paths are printed through :func:`~coffer.cli.output.safe_text` (undecodable bytes and control
characters escaped, reversibly); ``PATH`` and ``restore --path`` accept them as printed, and
also the absolute source paths ``snapshots`` prints (:mod:`coffer.ops.select`).
"""

from __future__ import annotations

import stat

import click

from coffer.cli.context import Options, common_options, open_repository
from coffer.cli.filter_options import resolve_filtered, snapshot_filter_options
from coffer.cli.output import emit_json, safe_text, unescape, warn
from coffer.engine.errors import PathNotInSnapshot
from coffer.engine.snapshot import Snapshot, walk
from coffer.ops import select
from coffer.ops.snapshot_filter import SnapshotFilter


def user_paths(snap: Snapshot, texts: list[str]) -> list[str]:
    """In-snapshot paths for what the user typed: as given, else with ``ls``'s escapes undone."""
    out = []
    for text in texts:
        try:
            out += select.resolve(snap, [text])
        except PathNotInSnapshot:
            if unescape(text) == text:
                raise
            out += select.resolve(snap, [unescape(text)])
    return out


@click.command("ls")
@common_options
@click.argument("snapshot")
@click.argument("path", required=False)
@snapshot_filter_options()
def command(
    opts: Options, snapshot: str, path: str | None, snapshot_filter: SnapshotFilter
) -> None:
    """List the files in SNAPSHOT (an ID prefix or 'latest'), below PATH if given."""
    repo = open_repository(opts)
    snap, warnings = resolve_filtered(repo, snapshot, snapshot_filter)
    for line in warnings:
        warn(line)
    nodes = snap.tree
    prefix = ""
    if path:
        rel = user_paths(snap, [path])[0]
        nodes = [select.find_node(snap, rel)]
        prefix = rel.rsplit("/", 1)[0] + "/" if "/" in rel else ""
    entries = [
        {
            "path": prefix + p,
            "type": n.type,
            "mode": stat.filemode(
                n.mode | {"dir": stat.S_IFDIR, "symlink": stat.S_IFLNK}.get(n.type, stat.S_IFREG)
            ),
            "size": n.size if n.type == "file" else 0,
            "mtime_ns": n.mtime_ns,
            **({"format": n.format} if n.type == "file" else {}),
            **({"target": n.target} if n.type == "symlink" else {}),
        }
        for p, n in walk(nodes)
    ]
    if opts.json:
        emit_json(entries)
        return
    for e in entries:
        extra = f" -> {safe_text(str(e['target']))}" if "target" in e else ""
        click.echo(f"{e['mode']} {e['size']:>12} {safe_text(str(e['path']))}{extra}")
