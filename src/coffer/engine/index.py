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
    """In-memory map blob ID → :class:`Location`, plus the set of packs it mentions."""

    def __init__(self) -> None:
        self._blobs: dict[bytes, Location] = {}
        self._packs: dict[str, list[PackEntry]] = {}

    def __len__(self) -> int:
        return len(self._blobs)

    def __contains__(self, blob_id: object) -> bool:
        return blob_id in self._blobs

    def get(self, blob_id: bytes) -> Location | None:
        return self._blobs.get(blob_id)

    def add_pack(self, pack_id: str, entries: Iterable[PackEntry]) -> None:
        if pack_id in self._packs:
            return
        stored = self._packs[pack_id] = list(entries)
        for e in stored:
            loc = Location(pack_id, e.type, e.compression, e.offset, e.length, e.raw_length)
            self._blobs.setdefault(e.blob_id, loc)

    def merge(self, other: Index) -> None:
        for pack_id, entries in other.pack_entries():
            self.add_pack(pack_id, entries)

    @property
    def packs(self) -> set[str]:
        return set(self._packs)

    def pack_entries(self) -> Iterator[tuple[str, list[PackEntry]]]:
        """Yield ``(pack_id, entries)`` for every pack, duplicates across packs included."""
        yield from self._packs.items()

    def blob_ids(self) -> Iterator[bytes]:
        return iter(self._blobs)


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
