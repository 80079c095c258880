"""Caps on every size Coffer reads from storage before it can authenticate it.

Storage is not trusted (docs/design.md, "Threat model"): a listing's sizes, a file's real size and
a pack trailer's header length are all chosen by whoever controls the storage. Each one is
checked against the object's real size and the cap of its object type *before* anything is
allocated for it, so a 1 GiB junk file (or a sparse file claiming to be one) costs a ``stat`` and
an :class:`~coffer.errors.IntegrityError`, not a gigabyte of memory.

The caps (documented in docs/storage.md, "Size limits") sit well above anything Coffer writes and
well below what would hurt a phone; writers check them too (:func:`check_write`), so an object
Coffer writes is always one Coffer reads back:

=================  ==================  =====================================================
object             cap (stored bytes)  why this much
=================  ==================  =====================================================
config             64 KiB              a header and a sealed JSON document of ~200 bytes
keys/              128 KiB             a slot's fixed fields plus at most 64 KiB of metadata
snapshots/         64 MiB + 64 KiB     v2 objects are ~1 KiB; a v1 object held its tree,
                                       decompressed at most 64 MiB (manifest.MAX_MANIFEST_BYTES)
index/             32 MiB + 64 KiB     written in pieces of at most 16 MiB of plaintext
                                       (:data:`INDEX_PIECE_BYTES`); 32 MiB decompressed
locks/             16 MiB              a lock is ~100 bytes; a prune plan lists ~67 bytes a
                                       condemned pack (~250,000 packs, ~4 TB)
pack header        ~24 MiB             :data:`MAX_PACK_ENTRIES` entries of 46 bytes; a pack
                                       of 16 MiB holds at most ~400,000 blobs of 1 byte
=================  ==================  =====================================================

Packs themselves are never read whole: ``check --read-data`` hashes them in pieces of
:data:`PACK_READ_PIECE` bytes and prune copies blobs by range, so a pack's size costs time only.
"""

from __future__ import annotations

from coffer.backends.base import Backend, ObjectType
from coffer.crypto.aead import SEAL_OVERHEAD
from coffer.errors import IntegrityError, RepositoryError

KIB = 1024
MIB = 1024 * KIB

CONFIG_MAX = 64 * KIB
KEY_SLOT_MAX = 128 * KIB
SNAPSHOT_MAX = 64 * MIB + 64 * KIB
INDEX_PLAIN_MAX = 32 * MIB  # decompressed
INDEX_MAX = INDEX_PLAIN_MAX + 64 * KIB  # stored: zstd may grow incompressible IDs a little
INDEX_PIECE_BYTES = 16 * MIB  # what one index object a writer stores holds at most (plaintext)
LOCK_MAX = 16 * MIB
MAX_PACK_ENTRIES = 1 << 19
PACK_ENTRY_LEN = 46  # pack.ENTRY_LEN (checked by a test; pack imports this module)
PACK_HEADER_MAX = 5 + MAX_PACK_ENTRIES * PACK_ENTRY_LEN + SEAL_OVERHEAD
PACK_READ_PIECE = 8 * MIB

_CAPS = {
    ObjectType.CONFIG: CONFIG_MAX,
    ObjectType.KEYS: KEY_SLOT_MAX,
    ObjectType.SNAPSHOTS: SNAPSHOT_MAX,
    ObjectType.INDEX: INDEX_MAX,
    ObjectType.LOCKS: LOCK_MAX,
}


def cap_for(kind: ObjectType) -> int:
    """The largest object of ``kind`` Coffer reads whole (packs are never read whole)."""
    return _CAPS[kind]


def _what(kind: ObjectType, name: str) -> str:
    return "config" if kind is ObjectType.CONFIG else f"{kind.value}/{name}"


def check_size(kind: ObjectType, name: str, size: int) -> None:
    """Refuse an object whose size exceeds its type's cap: IntegrityError naming it."""
    cap = cap_for(kind)
    if size > cap:
        raise IntegrityError(
            f"{_what(kind, name)}: {size} bytes, more than the {cap}-byte limit for "
            f"{kind.value} objects (damaged or injected; see docs/storage.md, 'Size limits')"
        )


def load_bounded(backend: Backend, kind: ObjectType, name: str, size: int | None = None) -> bytes:
    """Read a whole object whose size is first checked against its cap.

    ``size`` is the listing's size if the caller has one (saves a round trip); either way only
    that many bytes are asked for, so an object that grew after the check is read short (its
    hash then fails) instead of being read to its new end.
    """
    if size is None:
        size = backend.stat(kind, name)
    check_size(kind, name, size)
    return backend.load(kind, name, 0, size)


def check_write(kind: ObjectType, name: str, size: int) -> None:
    """Refuse to store an object that readers would refuse (RepositoryError: a Coffer limit)."""
    cap = cap_for(kind)
    if size > cap:
        raise RepositoryError(
            f"{_what(kind, name)}: {size} bytes would exceed the {cap}-byte limit for "
            f"{kind.value} objects; nothing was written"
        )


def check_header_length(pack_id: str, header_len: int, pack_size: int) -> None:
    """A pack trailer's header length must fit both the pack and :data:`PACK_HEADER_MAX`."""
    if header_len > PACK_HEADER_MAX:
        raise IntegrityError(
            f"data/{pack_id}: its trailer claims a {header_len}-byte header, more than the "
            f"{PACK_HEADER_MAX}-byte limit (damaged or injected)"
        )
    if header_len + 8 > pack_size:
        raise IntegrityError(f"data/{pack_id}: header length exceeds the pack")
