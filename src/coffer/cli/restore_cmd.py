"""``coffer restore SNAPSHOT --target DIR [--path P]``."""

from __future__ import annotations

from pathlib import Path

import click

from coffer.cli.context import Options, common_options, open_repository
from coffer.cli.output import BarProgress, emit_json, human_bytes, warn
from coffer.engine.locks import locked
from coffer.errors import IntegrityError
from coffer.ops.listing import resolve_snapshot
from coffer.ops.restore import restore


@click.command("restore")
@common_options
@click.argument("snapshot")
@click.option("--target", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--path", "subpath", help="restore only this path of the snapshot")
@click.option("--strict", is_flag=True, help="stop at the first damaged file")
def command(opts: Options, snapshot: str, target: Path, subpath: str | None, strict: bool) -> None:
    """Restore SNAPSHOT (an ID prefix or 'latest') into the folder TARGET."""
    repo = open_repository(opts)
    progress = BarProgress(enabled=not (opts.quiet or opts.json))
    with locked(repo):
        repo.load_index()
        snap, warnings = resolve_snapshot(repo, snapshot)
        for line in warnings:
            warn(line)
        result = restore(repo, snap, target, path=subpath, strict=strict, progress=progress)
    if opts.json:
        emit_json(
            {
                "snapshot": snap.id,
                "target": str(target),
                "files": result.files,
                "dirs": result.dirs,
                "symlinks": result.symlinks,
                "bytes": result.bytes,
                "errors": result.errors,
            }
        )
    else:
        click.echo(
            f"restored {result.files} files ({human_bytes(result.bytes)}) from snapshot "
            f"{snap.id[:8]} into {target}"
        )
    if result.errors:
        raise IntegrityError(
            f"{len(result.errors)} file(s) could not be restored (damaged data or an unwritable "
            "target; see the warnings above): " + ", ".join(e["path"] for e in result.errors[:5])
        )
