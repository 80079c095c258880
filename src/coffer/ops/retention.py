"""Forget policies: which snapshots to keep (keep-last/hourly/daily/weekly/monthly/yearly/within).

Rules:
- Snapshots are grouped by (hostname, sorted paths), as restic does; each group is judged on its
  own, so a policy never lets one device's snapshots push out another's.
- Within a group, snapshots are walked newest first. ``keep-last N`` keeps the N newest. A
  bucketed rule (hourly, daily, weekly, monthly, yearly) keeps the newest snapshot of each of
  the N most recent buckets that hold a snapshot. ``within D`` keeps every snapshot no older
  than D before the group's newest snapshot. A snapshot is kept if any rule keeps it; the
  reasons are reported.
- Buckets are computed in UTC (hour, calendar day, ISO week, month, year): deterministic on
  every machine, whatever its time zone.
- A policy with no rule at all is refused (:class:`~coffer.errors.UsageError`): "forget with
  nothing to keep" is far more often a typo than an intent.
- A count of ``-1`` means "unlimited" (every bucket), as in restic.

Theory of operation: pure functions over ``Snapshot`` headers; the CLI deletes what
:func:`apply_policy` puts in ``remove``. Nothing here touches storage.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from coffer.engine.snapshot import Snapshot
from coffer.errors import UsageError

_DURATION = re.compile(r"(\d+)([yMwdhms])")
_DAY = 24 * 3600
_UNITS = {"y": 365 * _DAY, "M": 30 * _DAY, "w": 7 * _DAY, "d": _DAY, "h": 3600, "m": 60, "s": 1}


@dataclass(frozen=True)
class Policy:
    """How many snapshots (or buckets) of each kind to keep; 0 disables a rule."""

    last: int = 0
    hourly: int = 0
    daily: int = 0
    weekly: int = 0
    monthly: int = 0
    yearly: int = 0
    within: timedelta | None = None

    def empty(self) -> bool:
        counts = (self.last, self.hourly, self.daily, self.weekly, self.monthly, self.yearly)
        return not any(counts) and self.within is None


@dataclass
class GroupDecision:
    """The verdict for one (hostname, paths) group."""

    hostname: str
    paths: list[str]
    keep: list[Snapshot] = field(default_factory=list)
    remove: list[Snapshot] = field(default_factory=list)
    reasons: dict[str, list[str]] = field(default_factory=dict)


def parse_duration(text: str) -> timedelta:
    """Parse ``1y2M3w4d5h6m7s`` (years of 365 days, months of 30, weeks, days, h, min, s)."""
    text = text.strip()
    parts = _DURATION.findall(text)
    if not text or "".join(n + u for n, u in parts) != text:
        raise UsageError(f"invalid duration {text!r}: use e.g. 2y, 6M, 3w, 10d, 12h, 30m, 0s")
    return timedelta(seconds=sum(int(n) * _UNITS[u] for n, u in parts))


def snapshot_time(snap: Snapshot) -> datetime:
    return datetime.fromisoformat(snap.time)


def _buckets() -> list[tuple[str, Callable[[datetime], object]]]:
    return [
        ("hourly", lambda t: (t.year, t.month, t.day, t.hour)),
        ("daily", lambda t: (t.year, t.month, t.day)),
        ("weekly", lambda t: t.isocalendar()[:2]),
        ("monthly", lambda t: (t.year, t.month)),
        ("yearly", lambda t: t.year),
    ]


def _judge(snaps: list[Snapshot], policy: Policy) -> tuple[set[str], dict[str, list[str]]]:
    """Return the IDs to keep and why, for one group sorted newest first."""
    reasons: dict[str, list[str]] = {}
    times = {s.id: _utc(snapshot_time(s)) for s in snaps}
    for i, s in enumerate(snaps):
        if policy.last < 0 or i < policy.last:
            reasons.setdefault(s.id, []).append("last")
    if policy.within is not None and snaps:
        newest = times[snaps[0].id]
        for s in snaps:
            if times[s.id] >= newest - policy.within:
                reasons.setdefault(s.id, []).append("within")
    for name, bucket_of in _buckets():
        budget = getattr(policy, name)
        last_bucket: object = None
        for s in snaps:
            if budget == 0:
                break
            bucket = bucket_of(times[s.id])
            if bucket != last_bucket:
                reasons.setdefault(s.id, []).append(name)
                last_bucket = bucket
                budget -= 1
    return set(reasons), reasons


def _utc(t: datetime) -> datetime:
    return t.astimezone(UTC) if t.tzinfo else t.replace(tzinfo=UTC)


def group_key(snap: Snapshot) -> tuple[str, tuple[str, ...]]:
    return snap.hostname, tuple(sorted(snap.paths))


def apply_policy(snapshots: Iterable[Snapshot], policy: Policy) -> list[GroupDecision]:
    """Split ``snapshots`` into kept and removed, per (hostname, paths) group."""
    if policy.empty():
        raise UsageError("no retention policy given: nothing would be kept (use --keep-*)")
    groups: dict[tuple[str, tuple[str, ...]], list[Snapshot]] = {}
    for snap in snapshots:
        groups.setdefault(group_key(snap), []).append(snap)
    out = []
    for (host, paths), snaps in sorted(groups.items()):
        snaps.sort(key=lambda s: (_utc(snapshot_time(s)), s.id), reverse=True)
        keep_ids, reasons = _judge(snaps, policy)
        decision = GroupDecision(host, list(paths), reasons=reasons)
        for s in snaps:
            (decision.keep if s.id in keep_ids else decision.remove).append(s)
        out.append(decision)
    return out
