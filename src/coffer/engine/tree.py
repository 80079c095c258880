"""The tree stream (repository format v2): a snapshot's file tree as blobs in packs.

Byte layout: one MessagePack value (msgspec; arrays, not maps, so a node costs few bytes)::

    tree  = ["coffer-tree", 2, [node, ...]]
    node  = [name: bin, kind: int, mode: int, mtime_ns: int, size: int, inode: int,
             ctime_ns: int, format: str, content: bin, target: bin, extra: map, children: [node]]
    kind  = 0 dir | 1 file | 2 symlink
    content = blob_id ‖ blob_id ‖ …  (32 bytes each, files only)

The encoded tree is cut with keyed FastCDC (16/64/256 KiB, the chunker key's gear table) and the
pieces are stored as ordinary blobs; the snapshot object lists their IDs in order.

Rules:
- Names and symlink targets are stored as the raw bytes the file system gave (POSIX names are
  bytes); in memory they are ``str`` decoded with ``os.fsdecode`` (surrogateescape), which maps
  every byte string to a distinct ``str`` and back, so nothing is lost or merged.
- Encoding is canonical for a given tree (fixed field order, children in the walk's sorted
  order, msgspec's deterministic encoder), so an unchanged subtree gives the same bytes and the
  same chunks: a daily snapshot of a large, mostly unchanged folder stores only a few new
  chunks of tree.
- Decoding validates every node through :func:`coffer.engine.snapshot.check_component` and the
  schema below; anything else is an :class:`~coffer.errors.IntegrityError`.
"""

from __future__ import annotations

import os
from typing import Any

import msgspec

from coffer.engine.snapshot import BLOB_ID_LEN, BlobList, Node, check_component
from coffer.errors import IntegrityError

MAGIC = "coffer-tree"
VERSION = 2
MAX_TREE_BYTES = 1 << 30  # 1 GiB of encoded tree: ~10 million files; more is refused as hostile
MAX_DEPTH = 512

_KINDS = {"dir": 0, "file": 1, "symlink": 2}
_NAMES = {v: k for k, v in _KINDS.items()}


class _NodeRec(msgspec.Struct, array_like=True):
    name: bytes
    kind: int
    mode: int
    mtime_ns: int
    size: int
    inode: int
    ctime_ns: int
    format: str
    content: bytes
    target: bytes
    extra: dict[str, Any]
    children: list[_NodeRec]


class _TreeRec(msgspec.Struct, array_like=True):
    magic: str
    version: int
    nodes: list[_NodeRec]


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(_TreeRec)


def _to_rec(node: Node, depth: int = 0) -> _NodeRec:
    if depth > MAX_DEPTH:
        raise IntegrityError(f"tree deeper than {MAX_DEPTH} levels")
    return _NodeRec(
        name=os.fsencode(node.name),
        kind=_KINDS[node.type],
        mode=node.mode,
        mtime_ns=node.mtime_ns,
        size=node.size,
        inode=node.inode,
        ctime_ns=node.ctime_ns,
        format=node.format if node.type == "file" else "",
        content=node.content.joined()
        if isinstance(node.content, BlobList)
        else b"".join(node.content),
        target=os.fsencode(node.target),
        extra=node.extra,
        children=[_to_rec(c, depth + 1) for c in node.children],
    )


def _from_rec(rec: _NodeRec, depth: int = 0) -> Node:
    if depth > MAX_DEPTH:
        raise IntegrityError(f"tree deeper than {MAX_DEPTH} levels")
    kind = _NAMES.get(rec.kind)
    if kind is None:
        raise IntegrityError(f"unknown node kind {rec.kind} in tree")
    if len(rec.content) % BLOB_ID_LEN or (rec.content and kind != "file"):
        raise IntegrityError("tree node content is not a list of blob IDs")
    if rec.children and kind != "dir":
        raise IntegrityError("a tree node that is not a directory has children")
    return Node(
        name=check_component(os.fsdecode(rec.name)),
        type=kind,
        mode=rec.mode,
        mtime_ns=rec.mtime_ns,
        size=rec.size,
        inode=rec.inode,
        ctime_ns=rec.ctime_ns,
        format=rec.format or "file",
        content=BlobList(rec.content),
        target=os.fsdecode(rec.target),
        children=[_from_rec(c, depth + 1) for c in rec.children],
        extra=dict(rec.extra),
    )


def encode_tree(nodes: list[Node]) -> bytes:
    """The canonical tree stream for ``nodes``."""
    return _ENCODER.encode(_TreeRec(MAGIC, VERSION, [_to_rec(n) for n in nodes]))


def decode_tree(data: bytes) -> list[Node]:
    """Parse and validate a tree stream; IntegrityError if it is not a valid version-2 tree."""
    try:
        rec = _DECODER.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
        raise IntegrityError(f"tree stream is malformed ({exc})") from None
    if rec.magic != MAGIC or rec.version != VERSION:
        raise IntegrityError(f"unsupported tree stream {rec.magic!r} version {rec.version!r}")
    return [_from_rec(n) for n in rec.nodes]
