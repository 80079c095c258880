"""``coffer dump SNAPSHOT PATH``: a file's contents, or a folder as a tar, on stdout.

``PATH`` is written as ``ls`` prints it (``chat-store/msgstore.db``) or as the absolute path
the backup read (``/home/me/chat-store/msgstore.db``); ``/`` is the whole snapshot. A folder
becomes a tar stream (rules: :mod:`coffer.ops.dump`). Output goes to ``--target FILE`` or to
stdout, which must not be a terminal. A damaged blob stops the stream with exit code 12.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import click

from coffer.cli.context import Options, common_options, open_repository
from coffer.cli.filter_options import resolve_filtered, snapshot_filter_options
from coffer.cli.ls_cmd import user_paths
from coffer.cli.output import safe_text, warn
from coffer.engine.locks import locked
from coffer.engine.snapshot import Node, Snapshot
from coffer.errors import UsageError
from coffer.ops import select
from coffer.ops.dump import Dumper
from coffer.ops.snapshot_filter import SnapshotFilter


def locate(snap: Snapshot, path: str) -> list[Node]:
    """The nodes ``path`` names in ``snap`` (``/``: the whole tree); :mod:`coffer.ops.select`
    maps source paths, and ``ls``'s escapes are undone."""
    if path.strip("/") == "":
        return snap.tree
    return [select.find_node(snap, user_paths(snap, [path])[0])]


@contextlib.contextmanager
def _output(target: Path | None) -> Iterator[BinaryIO]:
    if target is not None:
        try:
            fh = open(target, "xb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise UsageError(f"cannot create {target}: {exc.strerror}") from None
        with fh:
            yield fh
        return
    if sys.stdout.isatty():
        raise UsageError("stdout is a terminal: redirect it (coffer dump … > FILE) or use --target")
    yield sys.stdout.buffer


@click.command("dump")
@click.argument("snapshot")
@click.argument("path")
@click.option(
    "--target",
    type=click.Path(dir_okay=False, path_type=Path),
    help="write to this new file instead of stdout",
)
@snapshot_filter_options()
@common_options
def command(
    opts: Options,
    snapshot: str,
    path: str,
    target: Path | None,
    snapshot_filter: SnapshotFilter,
) -> None:
    """Write PATH of SNAPSHOT (an ID prefix or 'latest') to stdout: a file as it is, a folder
    (or / for everything) as a tar archive."""
    repo = open_repository(opts)
    with locked(repo):
        repo.load_index()
        snap, warnings = resolve_filtered(repo, snapshot, snapshot_filter)
        for line in warnings:
            warn(line)
        nodes = locate(snap, path)
        dumper = Dumper(repo)
        with _output(target) as out:
            if len(nodes) == 1 and nodes[0].type == "file":
                dumper.file(nodes[0], out)
            elif len(nodes) == 1 and nodes[0].type == "symlink":
                target_text = safe_text(nodes[0].target)
                raise UsageError(f"'{safe_text(path)}' is a symlink to '{target_text}'")
            else:
                dumper.tar(nodes, "", out)
            out.flush()
