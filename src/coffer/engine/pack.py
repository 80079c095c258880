"""Pack files: many sealed blobs followed by a sealed header that lists them.

Byte layout (all integers little-endian)::

    pack      = blob* sealed_header header_len:u32 magic:"CFP1"
    blob      = seal(data key, payload, AD = object_ad("blob", blob_id, repo_id))
    header    = version:u8(=1) count:u32 entry*          (sealed under the pack-header key,
                                                        AD = object_ad("pack-header", "", repo_id))
    entry     = type:u8 compression:u8 blob_id:32 offset:u32 length:u32 raw_length:u32

Rules:
- A pack's ID is the SHA-256 of its bytes, so ``check --read-data`` detects any change to a pack
  and a re-upload of identical bytes is harmless.
- Each blob is bound to its own ID by the AEAD's associated data, and the ID is a keyed MAC of
  the plaintext, so a blob cannot be swapped for another without detection.
- The header sits at the end so a pack can be written in one pass and its contents recovered
  later from the pack alone (``repair index`` and re-indexing of packs an interrupted backup left).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from coffer.crypto.aead import object_ad, open_sealed, seal
from coffer.engine.limits import MAX_PACK_ENTRIES, PACK_ENTRY_LEN, PACK_HEADER_MAX
from coffer.errors import IntegrityError

MAGIC = b"CFP1"
HEADER_VERSION = 1
_ENTRY = struct.Struct("<BB32sIII")
_COUNT = struct.Struct("<BI")
_TRAILER = struct.Struct("<I4s")
TRAILER_LEN = _TRAILER.size
ENTRY_LEN = _ENTRY.size
assert ENTRY_LEN == PACK_ENTRY_LEN  # limits.PACK_HEADER_MAX is computed from it
TARGET_PACK_SIZE = 16 * 1024 * 1024


class BlobType:
    """Kinds of blob; stored as one byte in the pack header."""

    DATA = 0


@dataclass(frozen=True, slots=True)
class PackEntry:
    """One blob's place inside a pack."""

    blob_id: bytes
    type: int
    compression: int
    offset: int
    length: int
    raw_length: int


def blob_ad(blob_id: bytes, repo_id: bytes) -> bytes:
    """Associated data that binds a sealed blob to its ID and repository."""
    return object_ad("blob", blob_id.hex(), repo_id)


def header_ad(repo_id: bytes) -> bytes:
    """Associated data of a pack header."""
    return object_ad("pack-header", "", repo_id)


class PackWriter:
    """Accumulates sealed blobs in memory until :meth:`finish` turns them into one pack."""

    def __init__(self, data_key: bytes, header_key: bytes, repo_id: bytes) -> None:
        self._data_key = data_key
        self._header_key = header_key
        self._repo_id = repo_id
        self._parts: list[bytes] = []
        self._size = 0
        self.entries: list[PackEntry] = []

    @property
    def size(self) -> int:
        return self._size

    def __len__(self) -> int:
        return len(self.entries)

    def full(self, pack_size: int) -> bool:
        """Time to ship: ``pack_size`` bytes, or as many entries as a reader accepts.

        The entry cap (:data:`coffer.engine.limits.MAX_PACK_ENTRIES`) bounds the header a reader
        must hold before it can authenticate it; at 16 MiB a pack never reaches it.
        """
        return self._size >= pack_size or len(self.entries) >= MAX_PACK_ENTRIES

    def add(self, blob_id: bytes, compression: int, payload: bytes, raw_length: int) -> None:
        """Seal ``payload`` (already compressed as ``compression`` says) and append it."""
        sealed = seal_blob(self._data_key, self._repo_id, blob_id, payload)
        self.add_sealed(blob_id, compression, sealed, raw_length)

    def add_sealed(self, blob_id: bytes, compression: int, sealed: bytes, raw_length: int) -> None:
        """Append a blob sealed by :func:`seal_blob` (possibly in another thread)."""
        entry = PackEntry(blob_id, BlobType.DATA, compression, self._size, len(sealed), raw_length)
        self._parts.append(sealed)  # joined once in finish: no repeated reallocation
        self._size += len(sealed)
        self.entries.append(entry)

    def finish_unhashed(self) -> tuple[bytes, list[PackEntry]]:
        """Return ``(pack_bytes, entries)``; hash with :func:`pack_id_of` (GIL-free, any thread)."""
        header = encode_header(self.entries)
        sealed = seal(self._header_key, header, header_ad(self._repo_id))
        self._parts += [sealed, _TRAILER.pack(len(sealed), MAGIC)]
        data = b"".join(self._parts)
        entries = self.entries
        self._parts, self._size, self.entries = [], 0, []
        return data, entries

    def finish(self) -> tuple[str, bytes, list[PackEntry]]:
        """Return ``(pack_id, pack_bytes, entries)``; the writer is empty afterwards."""
        data, entries = self.finish_unhashed()
        return pack_id_of(data), data, entries


def seal_blob(data_key: bytes, repo_id: bytes, blob_id: bytes, payload: bytes) -> bytes:
    """Seal one blob's payload, bound to its ID and repository."""
    return seal(data_key, payload, blob_ad(blob_id, repo_id))


def pack_id_of(data: bytes) -> str:
    """A pack's name: the SHA-256 of its bytes."""
    return hashlib.sha256(data).hexdigest()


def encode_header(entries: list[PackEntry]) -> bytes:
    parts = [_COUNT.pack(HEADER_VERSION, len(entries))]
    for e in entries:
        parts.append(
            _ENTRY.pack(e.type, e.compression, e.blob_id, e.offset, e.length, e.raw_length)
        )
    return b"".join(parts)


def decode_header(plain: bytes) -> list[PackEntry]:
    """Parse a decrypted header; raise IntegrityError on any inconsistency."""
    if len(plain) < _COUNT.size:
        raise IntegrityError("pack header too short")
    version, count = _COUNT.unpack_from(plain)
    if version != HEADER_VERSION or len(plain) != _COUNT.size + count * ENTRY_LEN:
        raise IntegrityError("pack header malformed")
    out = []
    for i in range(count):
        t, comp, bid, off, length, raw = _ENTRY.unpack_from(plain, _COUNT.size + i * ENTRY_LEN)
        out.append(PackEntry(bid, t, comp, off, length, raw))
    return out


def header_length_from_trailer(trailer: bytes) -> int:
    """Read the sealed header's length from the pack's last 8 bytes."""
    if len(trailer) != TRAILER_LEN:
        raise IntegrityError("pack trailer truncated")
    length, magic = _TRAILER.unpack(trailer)
    if magic != MAGIC:
        raise IntegrityError("pack trailer has a wrong magic number")
    return int(length)


def open_header(
    header_key: bytes, repo_id: bytes, sealed: bytes, pack_size: int
) -> list[PackEntry]:
    """Decrypt and parse a sealed header, checking every entry lies inside the pack."""
    plain = open_sealed(header_key, sealed, header_ad(repo_id))
    entries = decode_header(plain)
    limit = pack_size - TRAILER_LEN - len(sealed)
    for e in entries:
        if e.offset + e.length > limit:
            raise IntegrityError("pack header points outside the pack")
    return entries


def parse_pack(header_key: bytes, repo_id: bytes, data: bytes) -> list[PackEntry]:
    """Return the entries of a whole pack held in memory."""
    hlen = header_length_from_trailer(data[-TRAILER_LEN:])
    if hlen + TRAILER_LEN > len(data) or hlen > PACK_HEADER_MAX:
        raise IntegrityError("pack header length exceeds the pack or the header limit")
    sealed = data[-TRAILER_LEN - hlen : -TRAILER_LEN]
    return open_header(header_key, repo_id, sealed, len(data))
