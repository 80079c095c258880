"""Check: verify a repository's structure, and with ``read_data`` every byte of every pack.

What is checked, in order (each problem is reported with the object's name; checking goes on):
1. key slots: each ``keys/<id>`` hashes to its ID (a slot is named by its SHA-256);
2. index objects authenticate and parse;
3. snapshots authenticate and parse, and every blob they reference is indexed;
4. every indexed pack exists, and its authenticated header agrees with the index;
5. with ``read_data`` (or a subset): every pack's SHA-256 equals its name and every blob in it
   authenticates, decompresses and matches its keyed ID; ``on_verified(pack_id)`` is called for
   each pack that read back clean (the CLI records it, see :mod:`coffer.ops.verify_state`).
Objects in ``locks/`` that cannot be read (damaged, injected, not a regular file) are warnings:
they lock nobody out. Packs that no index lists are reported as warnings (an interrupted backup
leaves them; the next backup adopts them, prune removes them).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field

from coffer.backends.base import BackendError, ObjectNotFound, ObjectType
from coffer.engine import limits
from coffer.engine.index import Index, Location
from coffer.engine.pack import PackEntry
from coffer.engine.progress import Progress
from coffer.engine.repository import Repository, merge_index_objects
from coffer.engine.snapshot import walk
from coffer.errors import IntegrityError


@dataclass
class CheckReport:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    snapshots: int = 0
    packs: int = 0
    packs_read: int = 0
    blobs: int = 0
    bytes_read: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors


class Checker:
    def __init__(self, repo: Repository, progress: Progress) -> None:
        self.repo = repo
        self.progress = progress
        self.report = CheckReport()
        self.index = Index()
        self.on_verified: Callable[[str], None] | None = None

    def error(self, message: str) -> None:
        self.report.errors.append(message)
        self.progress.warn(message)

    def warn(self, message: str) -> None:
        self.report.warnings.append(message)

    def check_keys(self) -> None:
        for name, size in self.repo.backend.list(ObjectType.KEYS):
            try:
                data = limits.load_bounded(self.repo.backend, ObjectType.KEYS, name, size)
            except (IntegrityError, BackendError) as exc:
                self.error(f"keys/{name}: damaged ({exc})")
                continue
            if not hmac.compare_digest(hashlib.sha256(data).hexdigest(), name):
                self.error(f"keys/{name}: damaged (content does not match its ID)")

    def check_locks(self) -> None:
        """Objects in ``locks/`` that cannot be read are warnings: they lock nobody out."""
        for oid, size in self.repo.backend.list(ObjectType.LOCKS):
            try:
                self.repo.load_object(ObjectType.LOCKS, oid, size)
            except ObjectNotFound:
                continue  # released while we listed
            except (IntegrityError, BackendError) as exc:
                self.warn(f"locks/{oid}: not a lock, ignored ({exc})")

    def check_index(self) -> None:
        decoded, damaged, _vanished = self.repo.read_index_objects()
        for oid, reason in damaged.items():
            self.error(f"index/{oid}: damaged ({reason})")
        self.index, _live = merge_index_objects(decoded)

    def check_snapshots(self) -> None:
        for oid in self.repo.snapshot_ids():
            try:
                snap = self.repo.load_snapshot(oid)
            except (IntegrityError, BackendError) as exc:  # BackendError: not a regular file
                self.error(f"snapshots/{oid}: damaged ({exc})")
                continue
            self.report.snapshots += 1
            missing = sum(1 for b in snap.tree_blobs if b not in self.index)
            if missing:
                self.error(f"snapshots/{oid}: {missing} blobs of its tree are not in the index")
                continue
            try:
                tree = snap.tree
            except (IntegrityError, BackendError) as exc:
                self.error(f"snapshots/{oid}: its tree cannot be read ({exc})")
                continue
            for _path, node in walk(tree):
                missing += sum(1 for b in node.content if b not in self.index)
            if missing:
                self.error(f"snapshots/{oid}: {missing} referenced blobs are not in the index")

    def check_packs(self, read_data: bool, subset: set[str] | None) -> None:
        sizes = dict(self.repo.backend.list(ObjectType.DATA))
        for pack_id in sorted(set(sizes) - self.index.packs):
            self.report.warnings.append(f"data/{pack_id}: not referenced by any index")
        entries_of = dict(self.index.pack_entries())
        to_read = [p for p in entries_of if read_data and (subset is None or p in subset)]
        total = sum(sizes.get(p, 0) for p in to_read)
        self.progress.start(total, len(to_read), "check")
        for pack_id, entries in entries_of.items():
            self.report.packs += 1
            if pack_id not in sizes:
                self.error(f"data/{pack_id}: missing (listed in the index)")
                continue
            try:
                header = self.repo.read_pack_header(pack_id, sizes[pack_id])
            except (IntegrityError, BackendError) as exc:
                self.error(f"data/{pack_id}: damaged ({exc})")
                continue
            if {e.blob_id for e in header} != {e.blob_id for e in entries}:
                self.error(f"data/{pack_id}: header does not match the index")
            if pack_id in to_read:
                self._read_pack(pack_id, header, sizes[pack_id])
        self.progress.finish()

    def _read_pack(self, pack_id: str, header: list[PackEntry], size: int) -> None:
        try:
            intact, bad = self._stream_pack(pack_id, header, size)
        except BackendError as exc:
            self.error(f"data/{pack_id}: unreadable ({exc})")
            return
        self.report.packs_read += 1
        if not intact:
            self.error(f"data/{pack_id}: damaged (content does not match its ID)")
        if bad:
            self.error(f"data/{pack_id}: {bad} blob{'' if bad == 1 else 's'} failed authentication")
        elif intact and self.on_verified is not None:
            self.on_verified(pack_id)

    def _stream_pack(self, pack_id: str, header: list[PackEntry], size: int) -> tuple[bool, int]:
        """Hash the pack and open its blobs in one pass of bounded reads; (intact, bad blobs).

        The pack is read in pieces of :data:`limits.PACK_READ_PIECE` bytes; what is kept between
        pieces is at most the blob in progress (its length comes from the authenticated header),
        so a pack's size as storage reports it costs reading time, never memory.
        """
        hasher = hashlib.sha256()
        entries = sorted(header, key=lambda e: e.offset)
        buf, buf_start, pos, i, bad = bytearray(), 0, 0, 0, 0
        while pos < size:
            piece = self.repo.backend.load(
                ObjectType.DATA, pack_id, pos, min(limits.PACK_READ_PIECE, size - pos)
            )
            hasher.update(piece)
            buf += piece
            pos += len(piece)
            self.report.bytes_read += len(piece)
            self.progress.advance(len(piece))
            while i < len(entries) and entries[i].offset + entries[i].length <= pos:
                bad += not self._open_entry(pack_id, entries[i], buf, buf_start)
                i += 1
            keep = min(entries[i].offset, pos) if i < len(entries) else pos
            if keep > buf_start:
                del buf[: keep - buf_start]
                buf_start = keep
        bad += len(entries) - i  # entries beyond the end of what could be read
        return hasher.hexdigest() == pack_id, bad

    def _open_entry(self, pack_id: str, e: PackEntry, buf: bytearray, buf_start: int) -> bool:
        loc = Location(pack_id, e.type, e.compression, e.offset, e.length, e.raw_length)
        if e.offset < buf_start:  # overlaps an earlier blob (no writer does that): read it alone
            sealed = self.repo.backend.load(ObjectType.DATA, pack_id, e.offset, e.length)
        else:
            sealed = bytes(buf[e.offset - buf_start : e.offset - buf_start + e.length])
        try:
            self.repo.open_blob(e.blob_id, loc, sealed)
        except IntegrityError:
            return False
        self.report.blobs += 1
        return True


def check(
    repo: Repository,
    *,
    read_data: bool = False,
    subset: set[str] | None = None,
    progress: Progress | None = None,
    on_verified: Callable[[str], None] | None = None,
) -> CheckReport:
    """Check ``repo``; see the module docstring for what is verified."""
    checker = Checker(repo, progress or Progress())
    checker.on_verified = on_verified
    checker.check_keys()
    checker.check_locks()
    checker.check_index()
    checker.check_snapshots()
    checker.check_packs(read_data, subset)
    return checker.report
