"""Objects in ``snapshots/`` (repository format v2): snapshot headers and forget records.

Byte layout: the plaintext of a sealed ``snapshots/<id>`` object is zstd(MessagePack map), the map
tagged by its ``kind`` field (msgspec; string keys, so later v2 readers can add fields)::

    snapshot = {"kind": "snapshot", "v": 2, "time": RFC 3339 UTC, "hostname", "username",
                "paths": [bin], "parent": hex | nil, "tags": [str],
                "skipped": [{"path": bin, "error": str}], "summary": {str: any},
                "tree": [blob_id: bin(32)], "tree_bytes": int,
                "writer": hex(32), "seq": int, "seen": {writer hex: int}}
    forget   = {"kind": "forget", "v": 2, "time", "hostname", "writer", "seq", "seen",
                "removed": [{"id": hex(64), "writer": hex | "", "seq": int, "time": str}],
                "supersedes": [hex(64)]}

Rules:
- ``writer`` is a random 128-bit ID a device picks for itself per repository; ``seq`` counts
  that writer's objects (snapshots and forget records) and only grows; ``seen`` is the newest
  ``seq`` of every writer the writer had seen when it wrote (a vector clock). Together they let a
  reader tell a rolled-back or truncated ``snapshots/`` listing from an owner's deletion
  (docs/design.md, "Freshness"); all of it is inside the AEAD, so the provider can neither
  forge nor alter it.
- The tree is not in the object: it is stored as blobs (:mod:`coffer.engine.tree`), so a
  snapshot object is small (hundreds of bytes) and listing snapshots reads no tree.
- A format-v1 object (zstd JSON, ``{"version": 1, …}``) is told apart by its first byte and
  decoded by :meth:`coffer.engine.snapshot.Snapshot.from_v1_json`.
"""

from __future__ import annotations

import os
import re
from typing import Any

import msgspec
import zstandard

from coffer.engine.snapshot import ForgetRecord, RemovedSnapshot, Snapshot
from coffer.errors import IntegrityError

VERSION = 2
MAX_MANIFEST_BYTES = 64 << 20  # decompressed; a header with a long skipped list stays far below
_HEX32 = re.compile(r"[0-9a-f]{32}")
_HEX64 = re.compile(r"[0-9a-f]{64}")


class _Skipped(msgspec.Struct):
    path: bytes
    error: str


class _SnapshotDoc(msgspec.Struct, tag_field="kind", tag="snapshot"):
    v: int
    time: str
    hostname: str
    username: str
    paths: list[bytes]
    parent: str | None
    tags: list[str]
    skipped: list[_Skipped]
    summary: dict[str, Any]
    tree: list[bytes]
    tree_bytes: int
    writer: str
    seq: int
    seen: dict[str, int]


class _Removed(msgspec.Struct):
    id: str
    writer: str
    seq: int
    time: str


class _ForgetDoc(msgspec.Struct, tag_field="kind", tag="forget"):
    v: int
    time: str
    hostname: str
    writer: str
    seq: int
    seen: dict[str, int]
    removed: list[_Removed]
    supersedes: list[str]


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(_SnapshotDoc | _ForgetDoc)


def encode_snapshot(snap: Snapshot) -> bytes:
    """The plaintext of ``snap``'s object; its tree must already be stored (``tree_blobs``)."""
    return _compress(snapshot_msgpack(snap))


def encode_forget(rec: ForgetRecord) -> bytes:
    """The plaintext of a forget record's object."""
    return _compress(forget_msgpack(rec))


def snapshot_msgpack(snap: Snapshot) -> bytes:
    """The MessagePack map of a snapshot object, before zstd (what the vectors pin)."""
    doc = _SnapshotDoc(
        v=VERSION,
        time=snap.time,
        hostname=snap.hostname,
        username=snap.username,
        paths=[os.fsencode(p) for p in snap.paths],
        parent=snap.parent,
        tags=list(snap.tags),
        skipped=[_Skipped(os.fsencode(s["path"]), str(s["error"])) for s in snap.skipped],
        summary=dict(snap.summary),
        tree=list(snap.tree_blobs),
        tree_bytes=snap.tree_bytes,
        writer=snap.writer,
        seq=snap.seq,
        seen=dict(snap.seen),
    )
    return _ENCODER.encode(doc)


def forget_msgpack(rec: ForgetRecord) -> bytes:
    """The MessagePack map of a forget record, before zstd."""
    doc = _ForgetDoc(
        v=VERSION,
        time=rec.time,
        hostname=rec.hostname,
        writer=rec.writer,
        seq=rec.seq,
        seen=dict(rec.seen),
        removed=[_Removed(r.id, r.writer, r.seq, r.time) for r in rec.removed],
        supersedes=list(rec.supersedes),
    )
    return _ENCODER.encode(doc)


def decode_manifest(data: bytes, oid: str) -> Snapshot | ForgetRecord:
    """Decode an opened ``snapshots/`` object of format v1 or v2; IntegrityError if malformed."""
    try:
        raw = zstandard.ZstdDecompressor().decompress(data, max_output_size=MAX_MANIFEST_BYTES)
    except zstandard.ZstdError as exc:
        raise IntegrityError(f"snapshot {oid[:8]} is malformed ({exc})") from None
    if raw[:1] == b"{":
        return Snapshot.from_v1_json(raw, oid)
    try:
        doc = _DECODER.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise IntegrityError(f"snapshot {oid[:8]} is malformed ({exc})") from None
    if doc.v != VERSION:
        raise IntegrityError(f"snapshot {oid[:8]} has unsupported version {doc.v!r}")
    _check_writer(doc.writer, doc.seq, doc.seen, oid)
    if isinstance(doc, _ForgetDoc):
        return _forget_from_doc(doc, oid)
    return _snapshot_from_doc(doc, oid)


def _snapshot_from_doc(doc: _SnapshotDoc, oid: str) -> Snapshot:
    if any(len(b) != 32 for b in doc.tree) or doc.tree_bytes < 0:
        raise IntegrityError(f"snapshot {oid[:8]} has a malformed tree reference")
    if doc.parent is not None and not _HEX64.fullmatch(doc.parent):
        raise IntegrityError(f"snapshot {oid[:8]} has a malformed parent ID")
    return Snapshot(
        time=doc.time,
        hostname=doc.hostname,
        username=doc.username,
        paths=[os.fsdecode(p) for p in doc.paths],
        parent=doc.parent,
        tags=doc.tags,
        skipped=[{"path": os.fsdecode(s.path), "error": s.error} for s in doc.skipped],
        summary=doc.summary,
        id=oid,
        writer=doc.writer,
        seq=doc.seq,
        seen=doc.seen,
        tree_blobs=doc.tree,
        tree_bytes=doc.tree_bytes,
        version=VERSION,
        loader=_no_loader,
    )


def _forget_from_doc(doc: _ForgetDoc, oid: str) -> ForgetRecord:
    for r in doc.removed:
        if not _HEX64.fullmatch(r.id) or (r.writer and not _HEX32.fullmatch(r.writer)):
            raise IntegrityError(f"forget record {oid[:8]} names a malformed snapshot")
    if any(not _HEX64.fullmatch(s) for s in doc.supersedes):
        raise IntegrityError(f"forget record {oid[:8]} supersedes a malformed ID")
    return ForgetRecord(
        time=doc.time,
        hostname=doc.hostname,
        writer=doc.writer,
        seq=doc.seq,
        removed=[RemovedSnapshot(r.id, r.writer, r.seq, r.time) for r in doc.removed],
        seen=doc.seen,
        supersedes=doc.supersedes,
        id=oid,
    )


def _check_writer(writer: str, seq: int, seen: dict[str, int], oid: str) -> None:
    ok = bool(_HEX32.fullmatch(writer)) and seq > 0
    ok = ok and all(_HEX32.fullmatch(w) and n > 0 for w, n in seen.items())
    if not ok:
        raise IntegrityError(f"snapshot {oid[:8]} has a malformed writer or counter")


def _no_loader(snap: Snapshot) -> list[Any]:
    raise IntegrityError(f"snapshot {snap.id[:8]}: its tree can only be read through a repository")


def _compress(raw: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=3).compress(raw)
