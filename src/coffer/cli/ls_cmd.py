"""``coffer ls SNAPSHOT [PATH]``: list the files of a snapshot."""

from __future__ import annotations

import stat

import click

from coffer.cli.context import Options, common_options, open_repository, resolve_snapshot
from coffer.cli.output import emit_json
from coffer.engine.errors import PathNotInSnapshot
from coffer.engine.snapshot import find, walk


@click.command("ls")
@common_options
@click.argument("snapshot")
@click.argument("path", required=False)
def command(opts: Options, snapshot: str, path: str | None) -> None:
    """List the files in SNAPSHOT (an ID prefix or 'latest'), below PATH if given."""
    repo = open_repository(opts)
    snap = repo.load_snapshot(resolve_snapshot(repo, snapshot))
    nodes = snap.tree
    prefix = ""
    if path:
        node = find(snap.tree, path)
        if node is None:
            raise PathNotInSnapshot(f"{path!r} is not in snapshot {snap.id[:8]}")
        nodes = [node]
        prefix = "/".join(path.strip("/").split("/")[:-1])
        prefix = prefix + "/" if prefix else ""
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
        extra = f" -> {e['target']}" if "target" in e else ""
        click.echo(f"{e['mode']} {e['size']:>12} {e['path']}{extra}")
