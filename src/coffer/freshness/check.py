"""The freshness verdict: does storage show every object this device and the witness know of?

Sans-I/O: plain values in (:class:`Evidence`), a :class:`Verdict` out; no storage, clock or
network here, so every case is a unit test.

Rules:
- **accounted** = the ``(writer, seq)`` of every object present in ``snapshots/`` (snapshots
  and forget records) + every ``removed`` entry of every present forget record + the ranges
  this device accepted with ``--accept-rollback``.
- **required**, per writer = the highest of: every present object's own ``seq`` and its
  ``seen`` vector, the device record, the witness rows.
- Every ``(w, s)`` with ``1 ≤ s ≤ required[w]`` that is not accounted is **missing** (an
  owner's deletion always names what it removed, so nothing it removed is missing).
- Objects in ``snapshots/`` that cannot be read (damaged) may be the missing ones: when there
  are at least as many damaged objects as missing counters (and a missing object whose ID is
  known is among the damaged names), the verdict does not refuse — the
  listing already reports them, and ``latest`` refuses where one may be newest
  (:mod:`coffer.ops.listing`).
- A witness row whose ``seq`` is present in the listing must name that object (its keyed
  digest; with twins, one of them); otherwise the object is not the one the owner reported — a
  conflict, refused.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

ROLLBACK = "rollback"
DELETED = "deleted"


@dataclass(frozen=True)
class Present:
    """One readable object in ``snapshots/``."""

    id: str
    writer: str
    seq: int
    seen: dict[str, int] = field(default_factory=dict)
    removed: tuple[tuple[str, int], ...] = ()  # a forget record's (writer, seq) entries
    kind: str = "snapshot"
    time: str = ""
    hostname: str = ""


@dataclass(frozen=True)
class Known:
    """What a party (this device, the witness) says the newest object of a writer is."""

    seq: int
    source: str  # "device" | "witness"
    id: str = ""
    kind: str = ""
    time: str = ""
    hostname: str = ""
    since: str = ""
    digest: bytes = b""  # witness rows: the keyed digest of the object ID


@dataclass(frozen=True)
class Evidence:
    """Everything the verdict is drawn from."""

    present: tuple[Present, ...]
    known: tuple[tuple[str, Known], ...] = ()  # (writer, what a party knows)
    accepted: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    damaged: int = 0
    digest: Callable[[str], bytes] | None = None  # object ID → keyed digest (witness rows)
    damaged_ids: frozenset[str] = frozenset()  # the names of the damaged objects


@dataclass(frozen=True)
class Missing:
    """A run ``first..last`` of one writer's counters that storage does not account for."""

    writer: str
    first: int
    last: int
    cause: str  # ROLLBACK | DELETED
    known: Known | None = None  # what is known of the newest missing object, if anything

    @property
    def count(self) -> int:
        return self.last - self.first + 1

    def describe(self) -> str:
        span = (
            f"object {self.first}"
            if self.first == self.last
            else (f"objects {self.first}-{self.last}")
        )
        what = (
            "rollback, or the newest hidden"
            if self.cause == ROLLBACK
            else "removed without a forget record"
        )
        text = f"writer {self.writer[:8]}: {span} missing ({what})"
        k = self.known
        if k is not None and k.seq == self.last:
            text += "; " + _describe_known(k)
        return text


@dataclass(frozen=True)
class Verdict:
    missing: tuple[Missing, ...]
    required: dict[str, int]
    conflicts: tuple[str, ...] = ()
    damaged: int = 0
    damaged_ids: frozenset[str] = frozenset()

    @property
    def missing_count(self) -> int:
        return sum(m.count for m in self.missing)

    @property
    def explained_by_damage(self) -> bool:
        """Every missing counter may be one of the damaged objects (module rules)."""
        if not self.missing or self.conflicts or self.missing_count > self.damaged:
            return False
        # objects are named by their content's hash: a missing object whose ID is known can
        # only be a damaged one if a damaged object bears that very name
        return all(
            m.known is None or not m.known.id or m.known.seq != m.last
            or m.known.id in self.damaged_ids
            for m in self.missing
        )  # fmt: skip

    @property
    def ok(self) -> bool:
        return (not self.missing and not self.conflicts) or self.explained_by_damage

    def message(self) -> str:
        """The refusal: what is missing and since when, and how to go on anyway."""
        lines = [m.describe() for m in self.missing] + list(self.conflicts)
        return (
            "storage shows an older state than this device or the witness has seen "
            "(a rollback, or snapshots removed without a forget record): "
            + "; ".join(lines)
            + ". The command was stopped. If you know why (you restored an old copy of the "
            "repository yourself), run it again with --accept-rollback"
        )


def verdict(ev: Evidence) -> Verdict:
    """Compare what storage shows with what is known (module rules)."""
    accounted: dict[str, set[int]] = {}
    required: dict[str, int] = {}

    def need(writer: str, seq: int, into: dict[str, int] = required) -> None:
        if writer and seq > into.get(writer, 0):
            into[writer] = seq

    for obj in ev.present:
        accounted.setdefault(obj.writer, set()).add(obj.seq)
        need(obj.writer, obj.seq)
        for w, s in obj.seen.items():
            need(w, s)
        for w, s in obj.removed:
            if w:
                accounted.setdefault(w, set()).add(s)
                need(w, s)
    in_storage = dict(required)  # what storage itself references, before any party's word
    newest_known: dict[str, Known] = {}
    for writer, k in ev.known:
        need(writer, k.seq)
        best = newest_known.get(writer)
        richer = best is not None and k.seq == best.seq and bool(k.id) and not best.id
        if best is None or k.seq > best.seq or richer:
            newest_known[writer] = k
    missing: list[Missing] = []
    for writer in sorted(required):
        have = accounted.get(writer, set())
        runs = _gaps(have, required[writer], ev.accepted.get(writer, []))
        top = in_storage.get(writer, 0)
        for first, last in runs:
            cause = ROLLBACK if last > top else DELETED
            missing.append(Missing(writer, first, last, cause, newest_known.get(writer)))
    return Verdict(tuple(missing), required, _conflicts(ev), ev.damaged, ev.damaged_ids)


def _gaps(have: set[int], upto: int, accepted: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """The runs of 1..upto that are neither in ``have`` nor in an accepted range."""
    covered = sorted({*((s, s) for s in have if s <= upto), *accepted})
    runs: list[tuple[int, int]] = []
    nxt = 1
    for first, last in covered:
        if first > nxt:
            runs.append((nxt, min(first - 1, upto)))
        nxt = max(nxt, last + 1)
        if nxt > upto:
            break
    if nxt <= upto:
        runs.append((nxt, upto))
    return [r for r in runs if r[0] <= r[1]]


def _conflicts(ev: Evidence) -> tuple[str, ...]:
    if ev.digest is None:
        return ()
    by_seq: dict[tuple[str, int], list[Present]] = {}
    for o in ev.present:
        by_seq.setdefault((o.writer, o.seq), []).append(o)
    out = []
    for writer, k in ev.known:
        objs = by_seq.get((writer, k.seq), [])
        if k.source != "witness" or not k.digest or not objs:
            continue
        # twins (one counter on two objects: written before writers took a device lock) are
        # fine as long as one of them is the object the witness was told about
        if not any(hmac.compare_digest(ev.digest(o.id), k.digest) for o in objs):
            out.append(
                f"writer {writer[:8]}: object {k.seq} in storage ({objs[0].id[:8]}) is not the "
                "one the witness was told about"
            )
    return tuple(out)


def _describe_known(k: Known) -> str:
    if k.source == "witness":
        since = f" (witness updated {k.since})" if k.since else ""
        return f"the witness knows of it{since}"
    what = {"forget": "forget record", "removed": "object"}.get(k.kind, "snapshot")
    name = f"{what} {k.id[:8]}" if k.id else what
    host = f" from host {k.hostname}" if k.hostname else ""
    made = f" made {_when(k.time)}" if k.time else ""
    since = f", seen by this device since {_when(k.since)}" if k.since else ""
    return f"newest known: {name}{host}{made}{since}"


def _when(stamp: str) -> str:
    """An RFC 3339 time as a person reads it: ``2026-12-01 10:00:00 UTC``."""
    return stamp[:19].replace("T", " ") + " UTC" if len(stamp) >= 19 else stamp
