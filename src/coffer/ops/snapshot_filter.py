"""Which snapshots a command means: restic's ``--host``, ``--tag`` and ``--path`` filters.

Rules (restic's, so its users' scripts mean the same thing here):
- ``--host H`` (repeatable): the snapshot was made on one of the given hosts.
- ``--tag a,b`` (repeatable): the snapshot carries *every* tag of one of the given groups — the
  comma is AND, repeating the flag is OR. An empty group (``--tag ''``) matches a snapshot
  without tags.
- ``--path P`` (repeatable): the snapshot's sources include *every* given path. Paths are
  compared after making them absolute and normal (``os.path.abspath``), so ``--path
  chat-store`` run where the backup ran means what the backup recorded.
- No filter matches everything. :func:`latest` picks the newest matching snapshot by its sealed
  time; a tie is broken by ID so the answer never depends on listing order.

The filter itself is pure: it looks only at snapshot headers (host, tags, paths, time), never at
trees. :func:`resolve` applies it to a repository's listing with :mod:`coffer.ops.listing`'s
rules: ``latest`` under a filter is the newest *matching* readable snapshot, refused
(:class:`~coffer.ops.listing.LatestIsAmbiguous`) when a damaged object — whose host and tags
cannot be read — may be newer; an ID or ID prefix must name a snapshot the filter matches.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from coffer.backends.base import BackendError, ObjectType
from coffer.engine.errors import SnapshotNotFound
from coffer.engine.repository import Repository
from coffer.engine.snapshot import Snapshot
from coffer.ops import listing


def _clean(path: str) -> str:
    return os.path.abspath(os.path.expanduser(path))


@dataclass(frozen=True)
class SnapshotFilter:
    """A conjunction of host, tag and path conditions; the empty filter matches every snapshot."""

    hosts: tuple[str, ...] = ()
    tag_groups: tuple[frozenset[str], ...] = ()
    paths: tuple[str, ...] = ()

    @classmethod
    def from_flags(
        cls,
        hosts: Iterable[str] = (),
        tags: Iterable[str] = (),
        paths: Iterable[str] = (),
    ) -> SnapshotFilter:
        """Build a filter from repeated ``--host``, ``--tag a,b`` and ``--path`` values."""
        groups = tuple(frozenset(t for t in arg.split(",") if t) for arg in tags)
        return cls(tuple(hosts), groups, tuple(_clean(p) for p in paths))

    @property
    def empty(self) -> bool:
        return not (self.hosts or self.tag_groups or self.paths)

    def matches(self, snap: Snapshot) -> bool:
        if self.hosts and snap.hostname not in self.hosts:
            return False
        if self.tag_groups:
            have = set(snap.tags)
            if not any(group <= have if group else not have for group in self.tag_groups):
                return False
        if self.paths:
            recorded = {_clean(p) for p in snap.paths}
            if not set(self.paths) <= recorded:
                return False
        return True

    def apply(self, snaps: Iterable[Snapshot]) -> list[Snapshot]:
        """The matching snapshots, oldest first."""
        return sorted((s for s in snaps if self.matches(s)), key=lambda s: (s.time, s.id))

    def describe(self) -> str:
        """The filter as the flags that make it (for messages), or ``""``."""
        parts = [f"--host {h}" for h in self.hosts]
        parts += [f"--tag {','.join(sorted(g))}" for g in self.tag_groups]
        parts += [f"--path {p}" for p in self.paths]
        return " ".join(parts)


def latest(snaps: Sequence[Snapshot], wanted: SnapshotFilter) -> Snapshot | None:
    """The newest snapshot ``wanted`` matches, or None."""
    chosen = wanted.apply(snaps)
    return chosen[-1] if chosen else None


def resolve(repo: Repository, ref: str, wanted: SnapshotFilter) -> tuple[Snapshot, list[str]]:
    """``latest`` or an ID prefix, under ``wanted`` → ``(snapshot, warnings)`` (module rules)."""
    if wanted.empty:
        return listing.resolve_snapshot(repo, ref)
    if ref != "latest":
        snap, warnings = listing.resolve_snapshot(repo, ref)
        if not wanted.matches(snap):
            raise SnapshotNotFound(f"snapshot {snap.id[:8]} does not match {wanted.describe()}")
        return snap, warnings
    full = listing.list_snapshots(repo, with_times=False)
    chosen = listing.SnapshotListing(wanted.apply(full.snapshots), full.damaged)
    if not chosen.snapshots and not chosen.damaged:
        raise SnapshotNotFound(f"no snapshot matches {wanted.describe()}")
    if chosen.damaged:  # the storage's write times decide whether they may be newer
        full = listing.list_snapshots(repo)
        chosen = listing.SnapshotListing(wanted.apply(full.snapshots), full.damaged)
        if chosen.snapshots:
            chosen.stored_at[chosen.snapshots[-1].id] = _written(repo, chosen.snapshots[-1].id)
    return chosen.latest(), full.warnings()


def _written(repo: Repository, oid: str) -> float | None:
    try:
        return repo.backend.modified(ObjectType.SNAPSHOTS, oid)
    except BackendError:
        return None
