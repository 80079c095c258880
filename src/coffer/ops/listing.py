"""Listing snapshots when some objects in ``snapshots/`` are damaged, and what ``latest`` means.

Rules:
- :func:`list_snapshots` reads every snapshot object (through
  :meth:`~coffer.engine.repository.Repository.list_manifests`): the readable ones are returned
  oldest first, every object that cannot be read (damaged, injected, not a regular file) by
  name with the reason. One bad object never hides the others. Forget records are not
  snapshots and are left out.
- ``latest`` is the readable snapshot with the newest (sealed) time — **unless a damaged object
  may be newer**, in which case it is refused with :class:`LatestIsAmbiguous`, naming the
  object and how to pick a snapshot by ID instead. A damaged object has no readable time, so it
  counts as older only when something says so:
  1. a readable snapshot names it as its parent (a parent is always older than its child), or
  2. the storage records when it was written (``Backend.modified``: the local backend does) and
     that is earlier than when the newest readable snapshot was written.
  Otherwise it may be the newest backup, and falling back to an older one would be a silent
  rollback. Storage times come from the untrusted provider; they only decide between refusing
  and going on, never which bytes are trusted — and a provider that can damage the newest
  object can as well delete it, which only freshness checks (issue 12) can detect.
- An ID prefix is matched against every object name, damaged ones included, so naming a damaged
  snapshot reports its damage instead of "no snapshot matches".

Exception tree::

    UsageError (2)
    └── SnapshotNotFound            coffer.engine.errors: nothing matches, or ambiguous prefix
    IntegrityError (12)
    └── LatestIsAmbiguous           a damaged object may be the newest snapshot
"""

from __future__ import annotations

from dataclasses import dataclass, field

from coffer.backends.base import BackendError, ObjectType
from coffer.engine.errors import SnapshotNotFound
from coffer.engine.repository import Repository
from coffer.engine.snapshot import Snapshot
from coffer.errors import IntegrityError


class LatestIsAmbiguous(IntegrityError):
    """``latest`` cannot be told: a damaged snapshot object may be newer than every readable one."""


@dataclass(frozen=True)
class DamagedSnapshot:
    """A ``snapshots/`` object that could not be read."""

    id: str
    reason: str
    stored_at: float | None = None  # the storage's write time, where the backend reports one

    @property
    def name(self) -> str:
        return f"snapshots/{self.id}"


@dataclass
class SnapshotListing:
    """The readable snapshots (oldest first) and the damaged objects of one repository."""

    snapshots: list[Snapshot] = field(default_factory=list)
    damaged: list[DamagedSnapshot] = field(default_factory=list)
    stored_at: dict[str, float | None] = field(default_factory=dict)

    @property
    def ids(self) -> list[str]:
        return sorted([s.id for s in self.snapshots] + [d.id for d in self.damaged])

    def warnings(self) -> list[str]:
        """One line per damaged object, for the CLI's stderr."""
        return [f"{d.name} cannot be read and is skipped: {d.reason}" for d in self.damaged]

    def latest(self) -> Snapshot:
        """The newest snapshot; :class:`LatestIsAmbiguous` if a damaged one may be newer."""
        if not self.snapshots:
            if self.damaged:
                raise LatestIsAmbiguous(
                    f"no snapshot can be read; damaged: {', '.join(d.name for d in self.damaged)}"
                )
            raise SnapshotNotFound("the repository has no snapshots")
        newest = self.snapshots[-1]
        suspects = [d for d in self.damaged if not self._known_older(d, newest)]
        if suspects:
            names = ", ".join(f"{d.name} ({d.reason})" for d in suspects)
            raise LatestIsAmbiguous(
                f"'latest' is ambiguous: {names} cannot be read and may be newer than "
                f"{newest.id[:8]} ({newest.time}); name a snapshot by ID instead "
                "(`coffer snapshots` lists the readable ones)"
            )
        return newest

    def _known_older(self, damaged: DamagedSnapshot, newest: Snapshot) -> bool:
        if any(s.parent == damaged.id for s in self.snapshots):
            return True
        newest_at = self.stored_at.get(newest.id)
        return (
            damaged.stored_at is not None
            and newest_at is not None
            and (damaged.stored_at < newest_at)
        )


def _stored_at(repo: Repository, oid: str) -> float | None:
    try:
        return repo.backend.modified(ObjectType.SNAPSHOTS, oid)
    except BackendError:
        return None


def list_snapshots(repo: Repository, *, with_times: bool = True) -> SnapshotListing:
    """Read every snapshot object (:meth:`Repository.list_manifests`); see the module docstring.

    ``with_times`` asks the backend when each damaged object (and the newest readable one) was
    written — one extra call each where the backend supports it — which
    :meth:`SnapshotListing.latest` needs to rule out damaged objects older than the newest.
    """
    manifests = repo.list_manifests()
    listing = SnapshotListing()
    listing.snapshots = sorted(manifests.snapshots.values(), key=lambda s: (s.time, s.id))
    for oid, reason in sorted(manifests.damaged.items()):
        reason = reason.removeprefix(f"snapshots/{oid}: ")
        listing.damaged.append(
            DamagedSnapshot(oid, reason, _stored_at(repo, oid) if with_times else None)
        )
    if with_times and listing.damaged and listing.snapshots:
        newest = listing.snapshots[-1].id
        listing.stored_at[newest] = _stored_at(repo, newest)
    return listing


def resolve_snapshot(repo: Repository, ref: str) -> tuple[Snapshot, list[str]]:
    """``latest`` or a unique ID prefix → ``(snapshot, warnings about damaged objects)``.

    Only ``latest`` reads every snapshot; an ID prefix is matched against the object names
    (damaged ones included, so naming a damaged snapshot reports its damage) and loads one.
    """
    if ref == "latest":
        listing = list_snapshots(repo)
        return listing.latest(), listing.warnings()
    ids = repo.snapshot_ids()
    matches = [i for i in ids if i.startswith(ref.lower())] if ref else []
    if len(matches) != 1:
        what = "no snapshot matches" if not matches else f"{len(matches)} snapshots match"
        raise SnapshotNotFound(f"{what} {ref!r}")
    return repo.load_snapshot(matches[0]), []
