"""restic's snapshot filters for the CLI: ``--host``, ``--tag``, ``--path``, as one decorator.

The matching rules are in :mod:`coffer.ops.snapshot_filter`. The decorated command receives
``snapshot_filter: SnapshotFilter``. ``restore`` already uses ``--path`` for the entry to
restore, so there the path filter is spelled ``--snapshot-path``.

Resolving a snapshot reference under a filter (:func:`resolve_filtered`): ``latest`` is the
newest matching snapshot; an ID or ID prefix must name a snapshot the filter matches (a
mismatch is :class:`~coffer.engine.errors.SnapshotNotFound`, never a silent other snapshot).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from coffer.cli.context import resolve_snapshot
from coffer.engine.errors import SnapshotNotFound
from coffer.engine.repository import Repository
from coffer.engine.snapshot import Snapshot
from coffer.ops.snapshot_filter import SnapshotFilter

F = TypeVar("F", bound=Callable[..., Any])


def snapshot_filter_options(path_flag: str = "--path") -> Callable[[F], F]:
    """Add ``--host``, ``--tag`` and ``path_flag``; the command gets ``snapshot_filter``."""

    def decorate(func: F) -> F:
        @click.option(
            "--host",
            "hosts",
            multiple=True,
            metavar="HOST",
            help="only snapshots made on HOST (repeatable: any of them)",
        )
        @click.option(
            "--tag",
            "tags",
            multiple=True,
            metavar="TAG[,TAG]",
            help="only snapshots with all these tags (repeatable: any of the groups)",
        )
        @click.option(
            path_flag,
            "source_paths",
            multiple=True,
            metavar="PATH",
            help="only snapshots of this source path (repeatable: all of them)",
        )
        @functools.wraps(func)
        def wrapper(
            *args: Any,
            hosts: tuple[str, ...],
            tags: tuple[str, ...],
            source_paths: tuple[str, ...],
            **kw: Any,
        ) -> Any:
            wanted = SnapshotFilter.from_flags(hosts, tags, source_paths)
            return func(*args, snapshot_filter=wanted, **kw)

        return wrapper  # type: ignore[return-value]

    return decorate


def resolve_filtered(repo: Repository, ref: str, wanted: SnapshotFilter) -> Snapshot:
    """The snapshot ``ref`` (``latest`` or an ID prefix) names among those ``wanted`` matches."""
    if wanted.empty:
        return repo.load_snapshot(resolve_snapshot(repo, ref))
    if ref == "latest":
        chosen = wanted.apply(repo.snapshots())
        if not chosen:
            raise SnapshotNotFound(f"no snapshot matches {wanted.describe()}")
        return chosen[-1]
    snap = repo.load_snapshot(resolve_snapshot(repo, ref))
    if not wanted.matches(snap):
        raise SnapshotNotFound(f"snapshot {snap.id[:8]} does not match {wanted.describe()}")
    return snap
