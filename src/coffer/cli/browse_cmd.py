"""``coffer browse [SNAPSHOT]``: read the chats of a snapshot in a browser, without restoring.

The repository is opened like every other command (recovery key or password); a shared lock is
held while the browser runs, so ``prune`` cannot delete what is being read. The URL printed
carries the session's token; no secret is in it. Ctrl-C or SIGTERM stops the server and removes
the private temporary folder.
"""

from __future__ import annotations

import os
import sys
import webbrowser

import click

from coffer.browse.catalog import Catalog
from coffer.browse.errors import NotFound, NothingToBrowse
from coffer.browse.server import bind, serve
from coffer.browse.workspace import Workspace, exit_on_signals
from coffer.cli.context import Options, common_options, open_repository
from coffer.engine.locks import locked


def _has_desktop() -> bool:
    return sys.platform in ("darwin", "win32") or bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )


@click.command("browse")
@common_options
@click.argument("snapshot", required=False)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    help="port on 127.0.0.1 (default: any free one)",
)
@click.option("--no-open", is_flag=True, help="print the URL but do not open a browser")
def command(opts: Options, snapshot: str | None, port: int, no_open: bool) -> None:
    """Browse the chats in SNAPSHOT (default: all snapshots, newest first) on 127.0.0.1."""
    repo = open_repository(opts)
    with exit_on_signals(), locked(repo), Workspace() as workspace:
        repo.load_index()
        catalog = Catalog(repo, workspace)
        if not catalog.infos:
            raise NothingToBrowse("the repository has no snapshots")
        start = ""
        if snapshot:
            try:
                snap_id = catalog.resolve(snapshot)
            except NotFound as exc:
                raise NothingToBrowse(str(exc)) from None
            start = f"s/{snap_id}/"
        else:
            snap_id = catalog.infos[0].id
        catalog.ready(snap_id)  # rebuild the snapshot's databases while the browser starts
        session = bind(catalog, port)
        url = session.url(start)

        def ready() -> None:
            click.echo(f"Coffer browser on {url}")
            click.echo("(only this computer can reach it; Ctrl-C stops it)", err=True)
            sys.stdout.flush()
            if not no_open and _has_desktop():
                webbrowser.open(url)

        try:
            serve(session, ready)
        finally:
            catalog.close()
