"""Repair: rebuild the index from pack headers; drop references to missing blobs from snapshots.

Rules:
- Both repairs hold an exclusive lock and are refused on append-only storage (they delete).
- ``repair index``: list ``data/``, read and authenticate every pack's header, write one index
  object listing every readable pack and superseding every index object seen, then delete
  those. A pack whose header fails is reported and left alone (``check`` names it). A crash
  before the new index is written changes nothing; after it, the old objects are superseded.
- ``repair snapshots``: a file whose content has a blob that no index lists is **removed from
  the tree** (not truncated: a truncated SQLite database or photo is worse than none, and a
  restore must never silently produce a corrupt file). The repaired snapshot keeps the original
  time, host and paths, gets the tag ``repaired`` and ``summary["repaired"]`` = {original
  snapshot, time of repair, removed paths}, and lists each removed file in ``skipped``. It is
  written before the original is removed, so a crash leaves at worst both.
- Run ``repair index`` first: a blob still in an unindexed pack is recovered by it, whereas
  ``repair snapshots`` would give it up.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

from coffer.backends.base import BackendError, ObjectNotFound, ObjectType
from coffer.engine.index import Index
from coffer.engine.locks import locked
from coffer.engine.pack import PackEntry
from coffer.engine.repository import Repository
from coffer.engine.snapshot import Node, Snapshot
from coffer.errors import IntegrityError
from coffer.ops.forget import remove_with_record
from coffer.ops.prune import refuse_append_only

REPAIRED_TAG = "repaired"


@dataclass
class IndexRepairReport:
    packs: int = 0
    blobs: int = 0
    damaged: list[str] = field(default_factory=list)
    index_written: str = ""
    index_deleted: int = 0


@dataclass
class SnapshotRepair:
    original: str
    replacement: str
    removed: list[str]


@dataclass
class SnapshotRepairReport:
    checked: int = 0
    repaired: list[SnapshotRepair] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)


def repair_index(repo: Repository) -> IndexRepairReport:
    """Rebuild the index from the headers of every pack in ``data/``."""
    refuse_append_only(repo)
    with locked(repo, exclusive=True):
        return _repair_index(repo)


def _repair_index(repo: Repository) -> IndexRepairReport:
    report = IndexRepairReport()
    old = sorted(oid for oid, _ in repo.backend.list(ObjectType.INDEX))
    packs: list[tuple[str, list[PackEntry]]] = []
    for pack_id, size in sorted(repo.backend.list(ObjectType.DATA)):
        try:
            packs.append((pack_id, repo.read_pack_header(pack_id, size)))
        except (IntegrityError, BackendError) as exc:
            report.damaged.append(str(exc))
    report.packs = len(packs)
    report.blobs = len({e.blob_id for _p, entries in packs for e in entries})
    report.index_written = repo.save_index(packs, supersedes=tuple(old))
    for oid in old:
        with contextlib.suppress(ObjectNotFound):
            repo.backend.remove(ObjectType.INDEX, oid)
            report.index_deleted += 1
    repo.load_index()
    return report


def _prune_tree(nodes: list[Node], index: Index, prefix: str, removed: list[str]) -> list[Node]:
    kept = []
    for node in nodes:
        path = f"{prefix}{node.name}"
        if node.type == "file" and any(b not in index for b in node.content):
            removed.append(path)
            continue
        if node.type == "dir":
            node.children = _prune_tree(node.children, index, path + "/", removed)
        kept.append(node)
    return kept


def repair_snapshot(
    repo: Repository, snap: Snapshot, *, dry_run: bool = False
) -> SnapshotRepair | None:
    """Replace ``snap`` by a copy without the files whose blobs are missing; None if intact."""
    removed: list[str] = []
    tree = _prune_tree(snap.tree, repo.index, "", removed)
    if not removed:
        return None
    if dry_run:
        return SnapshotRepair(snap.id, "", removed)
    original = snap.id
    snap.tree = tree
    if REPAIRED_TAG not in snap.tags:
        snap.tags.append(REPAIRED_TAG)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    info = {"original": original, "time": now, "removed": removed}
    snap.summary = {**snap.summary, "repaired": info}
    snap.skipped = snap.skipped + [
        {"path": p, "error": "removed by repair: stored data is missing"} for p in removed
    ]
    gone = Snapshot(snap.time, snap.hostname, snap.username, snap.paths, id=original)
    gone.writer, gone.seq = snap.writer, snap.seq
    snap.writer, snap.seq, snap.seen = "", 0, {}  # the copy is a new object of this device
    new_id = repo.save_snapshot(snap)
    remove_with_record(repo, [gone])  # the original goes as its owner removes it
    return SnapshotRepair(original, new_id, removed)


def repair_snapshots(repo: Repository, *, dry_run: bool = False) -> SnapshotRepairReport:
    """Repair every snapshot that references blobs the index does not hold."""
    if not dry_run:
        refuse_append_only(repo)
    with locked(repo, exclusive=not dry_run):
        repo.load_index()
        report = SnapshotRepairReport()
        for oid in sorted(repo.snapshot_ids()):
            try:
                snap = repo.load_snapshot(oid)
            except IntegrityError as exc:
                report.damaged.append(str(exc))
                continue
            report.checked += 1
            fixed = repair_snapshot(repo, snap, dry_run=dry_run)
            if fixed is not None:
                report.repaired.append(fixed)
        return report
