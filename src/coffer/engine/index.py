"""The index: where every blob lives (pack, offset, length), rebuilt in memory from index objects.

Byte layout of an index object's plaintext (before zstd and sealing; little-endian)::

    index      = version:u8(=1) n_supersedes:u32 superseded_id:32*  n_packs:u32 pack*
    pack       = pack_id:32 n_entries:u32 entry*
    entry      = (as in a pack header) type:u8 compression:u8 blob_id:32 offset:u32
                 length:u32 raw_length:u32

Rules:
- Index objects are immutable. A new index object may *supersede* older ones (it lists their
  IDs and contains everything they described); readers ignore superseded objects, so
  consolidation is: write the new one, then delete the old ones — a crash in between leaves a
  correct (if redundant) index.
- A blob present in several packs (two devices uploading the same chunk) is fine: any copy will do.
"""

from __future__ import annotations

import struct
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from coffer.engine.pack import ENTRY_LEN, PackEntry
from coffer.errors import IntegrityError

VERSION = 1
_U32 = struct.Struct("<I")
_ENTRY = struct.Struct("<BB32sIII")


class Location(NamedTuple):
    """Where one blob is stored."""

    pack_id: str
    type: int
    compression: int
    offset: int
    length: int
    raw_length: int


class Index:
    """Map blob ID → :class:`Location`, plus the packs it mentions, in about 70 bytes a blob.

    Theory: a page-mode database is one blob per 4 KiB page, so a dict of ``Location`` tuples
    (~250 bytes a blob with its key) grows the memory of backup, restore and check with the
    database's size. Here every pack's entries are kept as their packed 46-byte form in one
    ``bytearray``; lookups go through a sorted ``array`` of 8-byte ID prefixes (C ``bisect``)
    whose hits are confirmed against the full ID, plus a small dict for blobs added since the
    last merge. Merges happen when the dict reaches a quarter of the table, so adding n blobs
    costs O(n log n) overall. The first pack that lists a blob is where it is read from.
    """

    _MERGE_MIN = 4096

    def __init__(self) -> None:
        self._entries = bytearray()  # packed pack entries, ENTRY_LEN each, in insertion order
        self._entry_pack = array("I")  # entry number → pack number
        self._pack_ids: list[str] = []
        self._pack_no: dict[str, int] = {}
        self._pack_first: list[int] = []  # pack number → its first entry number
        self._prefixes = array("Q")  # sorted 8-byte ID prefixes of merged blobs
        self._slots = array("I")  # entry number of each prefix above
        self._recent: dict[bytes, int] = {}  # blob ID → entry number, not yet merged
        self._count = 0  # distinct blobs

    def __len__(self) -> int:
        return self._count

    def __contains__(self, blob_id: object) -> bool:
        return isinstance(blob_id, bytes) and self._find(blob_id) >= 0

    def get(self, blob_id: bytes) -> Location | None:
        n = self._find(blob_id)
        if n < 0:
            return None
        t, comp, _bid, off, length, raw = _ENTRY.unpack_from(self._entries, n * ENTRY_LEN)
        return Location(self._pack_ids[self._entry_pack[n]], t, comp, off, length, raw)

    def _find(self, blob_id: bytes) -> int:
        n = self._recent.get(blob_id)
        if n is not None:
            return n
        if len(blob_id) != 32 or not self._prefixes:
            return -1
        key = int.from_bytes(blob_id[:8], "big")
        i = bisect_left(self._prefixes, key)
        while i < len(self._prefixes) and self._prefixes[i] == key:
            n = self._slots[i]
            start = n * ENTRY_LEN + 2
            if self._entries[start : start + 32] == blob_id:
                return n
            i += 1
        return -1

    def add_pack(self, pack_id: str, entries: Iterable[PackEntry]) -> None:
        if pack_id in self._pack_no:
            return
        pack_no = len(self._pack_ids)
        self._pack_ids.append(pack_id)
        self._pack_no[pack_id] = pack_no
        first = len(self._entries) // ENTRY_LEN
        self._pack_first.append(first)
        n = first
        for e in entries:
            self._entries += _ENTRY.pack(
                e.type, e.compression, e.blob_id, e.offset, e.length, e.raw_length
            )
            self._entry_pack.append(pack_no)
            if self._find(e.blob_id) < 0:
                self._recent[e.blob_id] = n
                self._count += 1
            n += 1
        if len(self._recent) >= max(self._MERGE_MIN, len(self._prefixes) // 4):
            self._merge()

    def _merge(self) -> None:
        """Fold the recent dict into the sorted arrays."""
        keyed = [(int.from_bytes(bid[:8], "big"), n) for bid, n in self._recent.items()]
        keyed.extend(zip(self._prefixes, self._slots, strict=True))
        keyed.sort()
        self._prefixes = array("Q", (k for k, _n in keyed))
        self._slots = array("I", (n for _k, n in keyed))
        self._recent = {}

    def merge(self, other: Index) -> None:
        for pack_id, entries in other.pack_entries():
            self.add_pack(pack_id, entries)

    @property
    def packs(self) -> set[str]:
        return set(self._pack_ids)

    def pack_entries(self) -> Iterator[tuple[str, list[PackEntry]]]:
        """Yield ``(pack_id, entries)`` for every pack, duplicates across packs included."""
        total = len(self._entries) // ENTRY_LEN
        for pack_no, pack_id in enumerate(self._pack_ids):
            first = self._pack_first[pack_no]
            end = self._pack_first[pack_no + 1] if pack_no + 1 < len(self._pack_ids) else total
            yield pack_id, [self._entry(n) for n in range(first, end)]

    def _entry(self, n: int) -> PackEntry:
        t, comp, bid, off, length, raw = _ENTRY.unpack_from(self._entries, n * ENTRY_LEN)
        return PackEntry(bid, t, comp, off, length, raw)

    def blob_ids(self) -> Iterator[bytes]:
        """Every distinct blob ID once."""
        for n in self._recent.values():
            yield bytes(self._entries[n * ENTRY_LEN + 2 : n * ENTRY_LEN + 34])
        for n in self._slots:
            yield bytes(self._entries[n * ENTRY_LEN + 2 : n * ENTRY_LEN + 34])


def encode_index(packs: Iterable[tuple[str, list[PackEntry]]], supersedes: Iterable[str]) -> bytes:
    """Serialise packs and superseded index IDs into an index object's plaintext."""
    sup = list(supersedes)
    parts = [bytes([VERSION]), _U32.pack(len(sup))]
    parts.extend(bytes.fromhex(s) for s in sup)
    plist = list(packs)
    parts.append(_U32.pack(len(plist)))
    for pack_id, entries in plist:
        parts.append(bytes.fromhex(pack_id) + _U32.pack(len(entries)))
        for e in entries:
            parts.append(
                _ENTRY.pack(e.type, e.compression, e.blob_id, e.offset, e.length, e.raw_length)
            )
    return b"".join(parts)


def decode_index(plain: bytes) -> tuple[list[str], list[tuple[str, list[PackEntry]]]]:
    """Parse an index object's plaintext; raise IntegrityError when it is malformed."""
    try:
        return _decode(memoryview(plain))
    except (struct.error, IndexError, ValueError) as exc:
        raise IntegrityError(f"index object malformed ({exc})") from None


def _decode(buf: memoryview) -> tuple[list[str], list[tuple[str, list[PackEntry]]]]:
    if buf[0] != VERSION:
        raise ValueError(f"unsupported index version {buf[0]}")
    pos = 1
    (nsup,) = _U32.unpack_from(buf, pos)
    pos += 4
    sup = [bytes(buf[pos + 32 * i : pos + 32 * i + 32]).hex() for i in range(nsup)]
    pos += 32 * nsup
    (npacks,) = _U32.unpack_from(buf, pos)
    pos += 4
    packs = []
    for _ in range(npacks):
        pack_id = bytes(buf[pos : pos + 32]).hex()
        (n,) = _U32.unpack_from(buf, pos + 32)
        pos += 36
        entries = []
        for _ in range(n):
            t, comp, bid, off, length, raw = _ENTRY.unpack_from(buf, pos)
            entries.append(PackEntry(bid, t, comp, off, length, raw))
            pos += ENTRY_LEN
        packs.append((pack_id, entries))
    if pos != len(buf):
        raise ValueError("trailing bytes")
    return sup, packs
