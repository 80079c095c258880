"""Prune: delete packs no snapshot needs, in two phases that are safe with concurrent backups.

Rules:
- Refused on append-only backends (:class:`PruneRefused`, exit 14): they cannot delete.
- Each run holds an exclusive repository lock. The phases do not depend on it for safety
  against clients that take no lock (append-only endpoints) or whose lock went stale: that is
  what the grace period is for (docs/lifecycle.md gives the argument).
- **Mark**: from every snapshot (a damaged snapshot stops prune: what it references is unknown)
  compute the used blobs. Packs without a used blob are *condemned*; packs whose unused share
  exceeds ``max_unused`` get their still-used blobs copied into new packs and are condemned
  too; unindexed packs (left by a crash) are condemned unless they hold a used blob found
  nowhere else. Writes, in order: the new packs → an index object for them → the *plan* (a
  sealed ``locks/`` object: the time, taken after the index write, and the condemned packs).
  Condemned packs stay in the index, so every snapshot stays restorable meanwhile.
- Backups drop condemned packs from their in-memory index and never adopt them
  (:meth:`Repository.adopt_unindexed_packs`): nothing written after the plan needs them.
- **Sweep**, once ``now >= plan.time + grace``: reload every index and snapshot; a condemned
  pack is deleted only if every blob in it that a snapshot now references is also in an
  indexed pack that is not condemned — otherwise it is kept (*rescued*; a backup that began
  before the plan used it). Writes, in order: one index object listing every indexed pack
  but the doomed ones and superseding every index object seen → delete the doomed packs →
  delete the superseded index objects → delete the plan.
- Resumable after SIGKILL at any point: every step either adds an object that is correct on
  its own or deletes one nothing current needs; a rerun finishes a pending plan or marks anew.

Exception tree::

    PruneRefused (BackendError, 14)   append-only storage
    IntegrityError (12)               damaged snapshot, or used blobs in no pack
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from coffer.backends.base import BackendError, ObjectExists, ObjectNotFound, ObjectType
from coffer.engine import compress, limits
from coffer.engine.index import Location
from coffer.engine.locks import locked
from coffer.engine.pack import PackEntry, PackWriter
from coffer.engine.progress import Progress
from coffer.engine.repository import Repository
from coffer.engine.snapshot import walk
from coffer.errors import IntegrityError

PLAN_KIND = "prune-plan"
DEFAULT_GRACE = 24 * 3600.0
DEFAULT_MAX_UNUSED = 0.05

Packs = list[tuple[str, list[PackEntry]]]


class PruneRefused(BackendError):
    """Prune cannot run on this storage (it is append-only)."""


@dataclass
class PruneOptions:
    max_unused: float = DEFAULT_MAX_UNUSED
    grace: float = DEFAULT_GRACE
    dry_run: bool = False
    clock: Callable[[], float] = time.time


@dataclass
class Plan:
    id: str
    time: float
    hostname: str
    condemned: list[str]


@dataclass
class PruneReport:
    packs_total: int = 0
    packs_condemned: int = 0
    packs_repacked: int = 0
    blobs_repacked: int = 0
    bytes_repacked: int = 0
    packs_written: int = 0
    packs_deleted: int = 0
    bytes_deleted: int = 0
    packs_rescued: int = 0
    index_deleted: int = 0
    plans_swept: int = 0
    pending_until: float | None = None
    warnings: list[str] = field(default_factory=list)


# -- plans --------------------------------------------------------------------------------------
def load_plans(repo: Repository) -> list[Plan]:
    """Every readable prune plan in ``locks/``, oldest first."""
    plans = []
    for oid, size in repo.backend.list(ObjectType.LOCKS):
        try:
            doc = json.loads(repo.load_object(ObjectType.LOCKS, oid, size))
        except (IntegrityError, BackendError, ValueError):
            continue
        if isinstance(doc, dict) and doc.get("kind") == PLAN_KIND:
            plans.append(Plan(oid, float(doc["time"]), str(doc["hostname"]), doc["condemned"]))
    return sorted(plans, key=lambda p: p.time)


def _save_plan(repo: Repository, condemned: list[str], now: float) -> Plan:
    host = socket.gethostname()
    doc = {"kind": PLAN_KIND, "time": now, "hostname": host, "condemned": condemned}
    oid = repo.save_object(ObjectType.LOCKS, json.dumps(doc).encode())
    return Plan(oid, now, host, condemned)


# -- shared analysis ----------------------------------------------------------------------------
def used_blobs(repo: Repository) -> set[bytes]:
    """Blob IDs referenced by any snapshot; a damaged snapshot raises IntegrityError."""
    used: set[bytes] = set()
    for oid in repo.snapshot_ids():
        try:
            snap = repo.load_snapshot(oid)
            used.update(snap.tree_blobs)
            tree = snap.tree
        except ObjectNotFound:
            continue  # forgotten meanwhile
        except IntegrityError as exc:
            raise IntegrityError(
                f"prune stopped: {exc}; run `coffer repair snapshots` or forget it first"
            ) from None
        for _path, node in walk(tree):
            used.update(node.content)
    return used


@dataclass
class _Analysis:
    keep: Packs = field(default_factory=list)
    adopt: Packs = field(default_factory=list)
    repack: Packs = field(default_factory=list)
    condemned: list[str] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)


def _analyse(
    repo: Repository, max_unused: float, report: PruneReport
) -> tuple[_Analysis, set[bytes]]:
    repo.load_index()
    a = _Analysis()
    a.sizes = dict(repo.backend.list(ObjectType.DATA))
    used = used_blobs(repo)
    indexed = {p: e for p, e in repo.index.pack_entries() if p in a.sizes}
    kept_blobs: set[bytes] = set()
    for pack_id, entries in sorted(indexed.items()):
        live = sum(e.length for e in entries if e.blob_id in used)
        # unused = blobs nobody needs; a pack's own header is not waste (a small pack, such as
        # the one a snapshot's tree goes into, would otherwise be repacked on every prune)
        unused = sum(e.length for e in entries) - live
        if live == 0:
            a.condemned.append(pack_id)
        elif unused / a.sizes[pack_id] > max_unused:
            a.repack.append((pack_id, entries))
        else:
            a.keep.append((pack_id, entries))
            kept_blobs.update(e.blob_id for e in entries)
    _classify_unindexed(repo, a, used, kept_blobs, indexed, report)
    report.packs_total = len(a.sizes)
    return a, used


def _classify_unindexed(
    repo: Repository,
    a: _Analysis,
    used: set[bytes],
    kept_blobs: set[bytes],
    indexed: dict[str, list[PackEntry]],
    report: PruneReport,
) -> None:
    in_repack = {e.blob_id for _p, entries in a.repack for e in entries}
    for pack_id in sorted(set(a.sizes) - set(indexed)):
        try:
            entries = repo.read_pack_header(pack_id, a.sizes[pack_id])
        except (IntegrityError, BackendError) as exc:
            report.warnings.append(f"left alone: {exc}")
            continue
        needed = {e.blob_id for e in entries} & used
        if needed - kept_blobs - in_repack:
            a.keep.append((pack_id, entries))
            a.adopt.append((pack_id, entries))
            kept_blobs.update(e.blob_id for e in entries)
        else:
            a.condemned.append(pack_id)


# -- mark ---------------------------------------------------------------------------------------
def _offset(e: PackEntry) -> int:
    return e.offset


def _runs(entries: list[PackEntry]) -> Iterator[list[PackEntry]]:
    """Entries sorted by offset, grouped into adjacent runs of at most PACK_READ_PIECE bytes."""
    run: list[PackEntry] = []
    for e in entries:
        if run and (
            e.offset != run[-1].offset + run[-1].length
            or e.offset + e.length - run[0].offset > limits.PACK_READ_PIECE
        ):
            yield run
            run = []
        run.append(e)
    if run:
        yield run


class _Repacker:
    """Copies still-used blobs out of packs being repacked into new packs."""

    def __init__(self, repo: Repository, report: PruneReport) -> None:
        self.repo = repo
        self.report = report
        self.writer = PackWriter(repo.keys.data, repo.keys.pack_header, repo.repo_id)
        self.written: Packs = []

    def copy_pack(self, pack_id: str, entries: list[PackEntry], wanted: set[bytes]) -> None:
        """Copy the ``wanted`` blobs, read by range in runs of adjacent blobs.

        A pack is never read whole: its size is storage's word, the ranges come from the
        authenticated index, and a run stops at :data:`limits.PACK_READ_PIECE` bytes.
        """
        for run in _runs(sorted((e for e in entries if e.blob_id in wanted), key=_offset)):
            start = run[0].offset
            raw = self.repo.backend.load(
                ObjectType.DATA, pack_id, start, run[-1].offset + run[-1].length - start
            )
            for e in run:
                if e.blob_id in wanted:
                    self._copy_blob(pack_id, e, raw[e.offset - start : e.offset - start + e.length])
                    wanted.discard(e.blob_id)

    def _copy_blob(self, pack_id: str, e: PackEntry, sealed: bytes) -> None:
        loc = Location(pack_id, e.type, e.compression, e.offset, e.length, e.raw_length)
        plain = self.repo.open_blob(e.blob_id, loc, sealed)
        method, payload = compress.maybe_compress(plain, try_it=e.compression != 0)
        self.writer.add(e.blob_id, method, payload, len(plain))
        self.report.blobs_repacked += 1
        self.report.bytes_repacked += len(plain)
        if self.writer.full(self.repo.params.pack_size):
            self.flush()

    def flush(self) -> None:
        if not len(self.writer):
            return
        pack_id, data, entries = self.writer.finish()
        with contextlib.suppress(ObjectExists):  # same ID, same bytes: stored by a killed run
            self.repo.backend.save(ObjectType.DATA, pack_id, data)
        self.written.append((pack_id, entries))
        self.report.packs_written += 1


def mark(
    repo: Repository,
    options: PruneOptions,
    report: PruneReport,
    progress: Progress | None = None,
) -> Plan | None:
    """Phase 1: repack, index the new packs, then write the plan; None if nothing to do."""
    a, used = _analyse(repo, options.max_unused, report)
    report.packs_condemned = len(a.condemned) + len(a.repack)
    report.packs_repacked = len(a.repack)
    if not a.condemned and not a.repack:
        return None
    if options.dry_run:
        return None
    kept_blobs = {e.blob_id for _p, entries in a.keep for e in entries}
    wanted = used - kept_blobs
    missing = wanted - {e.blob_id for _p, entries in a.repack for e in entries}
    if missing:
        raise IntegrityError(
            f"prune stopped: {len(missing)} blobs that snapshots reference are in no pack; "
            "run `coffer check`, then `coffer repair index` / `coffer repair snapshots`"
        )
    repacker = _Repacker(repo, report)
    progress = progress or Progress()
    progress.start(sum(a.sizes[p] for p, _ in a.repack), len(a.repack), "repack")
    for pack_id, entries in a.repack:
        repacker.copy_pack(pack_id, entries, wanted)
        progress.advance(a.sizes[pack_id])
    progress.finish()
    repacker.flush()
    if a.adopt or repacker.written:
        repo.save_index(a.adopt + repacker.written)
    condemned = sorted(a.condemned + [p for p, _ in a.repack])
    return _save_plan(repo, condemned, options.clock())


# -- sweep --------------------------------------------------------------------------------------
def sweep(repo: Repository, plan: Plan, report: PruneReport, also_condemned: set[str]) -> None:
    """Phase 2: delete what is still unneeded, keep the rest, consolidate the index."""
    index_ids = sorted(oid for oid, _ in repo.backend.list(ObjectType.INDEX))
    repo.load_index()
    used = used_blobs(repo)
    sizes = dict(repo.backend.list(ObjectType.DATA))
    condemned = set(plan.condemned) | also_condemned
    indexed = dict(repo.index.pack_entries())
    available = {
        e.blob_id
        for p, entries in indexed.items()
        if p in sizes and p not in condemned
        for e in entries
    }
    doomed: set[str] = set()
    rescued: Packs = []
    for pack_id in plan.condemned:
        if pack_id not in sizes:
            continue  # deleted by an interrupted run
        entries = indexed.get(pack_id)
        if entries is None:
            try:
                entries = repo.read_pack_header(pack_id, sizes[pack_id])
            except (IntegrityError, BackendError) as exc:
                report.warnings.append(f"kept, header unreadable: {exc}")
                continue
        if any(e.blob_id in used and e.blob_id not in available for e in entries):
            report.packs_rescued += 1
            available.update(e.blob_id for e in entries)
            if pack_id not in indexed:
                rescued.append((pack_id, entries))
        else:
            doomed.add(pack_id)
    remaining = [(p, e) for p, e in indexed.items() if p not in doomed] + rescued
    repo.save_index(remaining, supersedes=tuple(index_ids))
    _delete(repo, ObjectType.DATA, sorted(doomed), report, sizes)
    _delete(repo, ObjectType.INDEX, index_ids, report, None)
    with contextlib.suppress(ObjectNotFound):
        repo.backend.remove(ObjectType.LOCKS, plan.id)
    report.plans_swept += 1


def _delete(
    repo: Repository,
    kind: ObjectType,
    names: list[str],
    report: PruneReport,
    sizes: dict[str, int] | None,
) -> None:
    for name in names:
        try:
            repo.backend.remove(kind, name)
        except ObjectNotFound:
            continue
        if sizes is not None:
            report.packs_deleted += 1
            report.bytes_deleted += sizes.get(name, 0)
        else:
            report.index_deleted += 1


# -- entry point --------------------------------------------------------------------------------
def refuse_append_only(repo: Repository) -> None:
    if repo.backend.capabilities.append_only:
        raise PruneRefused(
            f"{repo.backend.location} is append-only: it cannot delete, so prune (and repair) "
            "must run against the storage directly, not through the append-only endpoint"
        )


def prune(
    repo: Repository, options: PruneOptions | None = None, progress: Progress | None = None
) -> PruneReport:
    """Sweep matured plans, then mark (and, with ``grace`` 0, sweep at once)."""
    options = options or PruneOptions()
    progress = progress or Progress()
    refuse_append_only(repo)
    report = PruneReport()
    with locked(repo, exclusive=True):
        _run(repo, options, report, progress)
    for w in report.warnings:
        progress.warn(w)
    return report


def _run(repo: Repository, options: PruneOptions, report: PruneReport, progress: Progress) -> None:
    plans = load_plans(repo)
    if options.dry_run:
        if plans:
            report.pending_until = min(p.time for p in plans) + options.grace
        else:
            mark(repo, options, report, progress)
        return
    everything = {p for plan in plans for p in plan.condemned}
    pending = []
    for plan in plans:
        if options.clock() >= plan.time + options.grace:
            sweep(repo, plan, report, everything)
        else:
            pending.append(plan)
    if pending:
        report.pending_until = min(p.time for p in pending) + options.grace
        return
    new = mark(repo, options, report, progress)
    if new is None:
        return
    if options.clock() >= new.time + options.grace:
        sweep(repo, new, report, set())
    else:
        report.pending_until = new.time + options.grace
