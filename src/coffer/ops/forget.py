"""``forget``: remove the snapshots a retention policy does not keep.

Rules: the repository's exclusive lock is held (a shared one for a dry run); the policy is
applied per (hostname, paths) group (:func:`coffer.ops.retention.apply_policy`), optionally to
one hostname only — a scheduled job forgets only its own device's snapshots; a snapshot that
vanished meanwhile is not an error. Data is freed later by ``prune``. One function, so the
``forget`` command and the scheduled run cannot drift apart.

Every removal of a snapshot by its owner goes through :func:`remove_with_record` (``forget``
by policy and by ID, ``repair snapshots``): in a format-v2 repository it first writes one
authenticated forget record naming every removed snapshot (writer, counter, ID, time), so
freshness checks (:mod:`coffer.freshness`) on every device tell it from a provider's deletion.
The new record supersedes every older one and carries their entries *and the older records
themselves* as removed entries, so deleting the older records afterwards never opens a hole in
any writer's counters. Write order: the new record, then the snapshots, then the superseded
records — a crash in between leaves redundant, never missing, entries.
"""

from __future__ import annotations

import contextlib
import socket
from datetime import UTC, datetime

from coffer.backends.base import ObjectNotFound
from coffer.engine.locks import locked
from coffer.engine.repository import Repository
from coffer.engine.snapshot import ForgetRecord, RemovedSnapshot, Snapshot
from coffer.ops.retention import GroupDecision, Policy, apply_policy
from coffer.ops.snapshot_filter import SnapshotFilter


def forget(
    repo: Repository,
    policy: Policy,
    host: str | None = None,
    dry_run: bool = False,
    wanted: SnapshotFilter | None = None,
) -> list[GroupDecision]:
    """Apply ``policy`` (to ``host``'s snapshots only, when given, and to those ``wanted``
    matches — restic's ``--host/--tag/--path``); return the decisions."""
    with locked(repo, exclusive=not dry_run):
        # the readable snapshots: one damaged or injected object in snapshots/ must not block
        # every forget (it is neither kept nor removed; `snapshots` and `check` name it)
        listed = repo.list_manifests(fresh=True).snapshots.values()
        snaps = [s for s in listed if host is None or s.hostname == host]
        snaps = wanted.apply(snaps) if wanted is not None else snaps
        decisions = apply_policy(snaps, policy)
        if not dry_run:
            remove_with_record(repo, [s for d in decisions for s in d.remove])
    return decisions


def remove_with_record(repo: Repository, gone: list[Snapshot]) -> str | None:
    """Remove the snapshots ``gone`` as their owner (module docstring); return the forget
    record's ID (None for a format-v1 repository, which has none, or when nothing goes)."""
    if not gone:
        return None
    record_id = None
    older: list[ForgetRecord] = []
    if repo.format_version >= 2:
        older = list(repo.list_manifests().forgets.values())
        entries: dict[tuple[str, int] | str, RemovedSnapshot] = {}
        for rec in older:
            for r in rec.removed:
                entries.setdefault(_key(r), r)
            itself = RemovedSnapshot(rec.id, rec.writer, rec.seq, rec.time)
            entries.setdefault((rec.writer, rec.seq), itself)
        for snap in gone:
            entry = RemovedSnapshot(snap.id, snap.writer, snap.seq, snap.time)
            entries.setdefault(_key(entry), entry)
        now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        superseded = [r.id for r in older]
        host = socket.gethostname()
        record = ForgetRecord(now, host, "", 0, list(entries.values()), supersedes=superseded)
        record_id = repo.save_forget_record(record)
    for oid in [s.id for s in gone] + [r.id for r in older]:
        with contextlib.suppress(ObjectNotFound):
            repo.remove_snapshot(oid)
    return record_id


def _key(entry: RemovedSnapshot) -> tuple[str, int] | str:
    return (entry.writer, entry.seq) if entry.writer else entry.id
