"""``coffer export html SNAPSHOT --out DIR``: a snapshot's chats as a static, offline folder.

The databases are rebuilt in a private temporary folder (removed at the end, Ctrl-C and SIGTERM
included); only DIR is written, and DIR must be new or empty.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from coffer.browse.catalog import Catalog
from coffer.browse.errors import NotFound, NothingToBrowse
from coffer.browse.export import export_html
from coffer.browse.workspace import Workspace, exit_on_signals
from coffer.cli.context import Options, common_options, open_repository
from coffer.cli.output import emit_json, human_bytes
from coffer.engine.locks import locked


@click.group("export")
def export() -> None:
    """Export a snapshot's chats into another format."""


@export.command("html")
@common_options
@click.argument("snapshot")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="new or empty folder")
@click.option("--embed-media", is_flag=True, help="inline media up to 256 KiB in the pages")
def html(opts: Options, snapshot: str, out: Path, embed_media: bool) -> None:
    """Write SNAPSHOT (an ID prefix or 'latest') as static HTML pages under OUT."""
    started = time.perf_counter()
    repo = open_repository(opts)
    with exit_on_signals(), locked(repo), Workspace() as workspace:
        repo.load_index()
        catalog = Catalog(repo, workspace)
        try:
            snap_id = catalog.resolve(snapshot)
        except NotFound as exc:
            raise NothingToBrowse(str(exc)) from None
        try:
            stats = export_html(catalog, snap_id, out, embed=embed_media)
        finally:
            catalog.close()
    seconds = time.perf_counter() - started
    if opts.json:
        emit_json({"snapshot": snap_id, "out": str(out), "seconds": round(seconds, 2),
                   **stats.__dict__})  # fmt: skip
        return
    click.echo(
        f"exported {stats.messages} messages in {stats.chats} chats ({stats.pages} pages, largest "
        f"{human_bytes(stats.largest_page)}; {stats.media_files} media files, "
        f"{human_bytes(stats.media_bytes)}) from snapshot {snap_id[:8]} into {out}/index.html "
        f"in {seconds:.1f} s"
    )
