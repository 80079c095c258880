"""``forget``: remove the snapshots a retention policy does not keep.

Rules: the repository's exclusive lock is held (a shared one for a dry run); the policy is
applied per (hostname, paths) group (:func:`coffer.ops.retention.apply_policy`), optionally to
one hostname only — a scheduled job forgets only its own device's snapshots; a snapshot that
vanished meanwhile is not an error. Data is freed later by ``prune``. One function, so the
``forget`` command and the scheduled run cannot drift apart.
"""

from __future__ import annotations

from coffer.backends.base import ObjectNotFound, ObjectType
from coffer.engine.locks import locked
from coffer.engine.repository import Repository
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
        snaps = [s for s in repo.snapshots() if host is None or s.hostname == host]
        snaps = wanted.apply(snaps) if wanted is not None else snaps
        decisions = apply_policy(snaps, policy)
        if not dry_run:
            for d in decisions:
                for s in d.remove:
                    try:
                        repo.backend.remove(ObjectType.SNAPSHOTS, s.id)
                    except ObjectNotFound:
                        continue
    return decisions
