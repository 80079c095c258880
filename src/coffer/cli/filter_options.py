"""restic's snapshot filters for the CLI: ``--host``, ``--tag``, ``--path``, as one decorator.

The matching rules are in :mod:`coffer.ops.snapshot_filter`. The decorated command receives
``snapshot_filter: SnapshotFilter``. ``restore`` already uses ``--path`` for the entry to
restore, so there the path filter is spelled ``--snapshot-path``.

Resolving a snapshot reference under a filter (:func:`resolve_filtered`;
:func:`coffer.ops.snapshot_filter.resolve` has the rules): ``latest`` is the newest matching
snapshot; an ID or ID prefix must name a snapshot the filter matches (a mismatch is
:class:`~coffer.engine.errors.SnapshotNotFound`, never a silent other snapshot).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from coffer.engine.repository import Repository
from coffer.engine.snapshot import Snapshot
from coffer.ops import snapshot_filter
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


def resolve_filtered(
    repo: Repository, ref: str, wanted: SnapshotFilter
) -> tuple[Snapshot, list[str]]:
    """The snapshot ``ref`` names among those ``wanted`` matches, and warnings to print."""
    return snapshot_filter.resolve(repo, ref, wanted)
