"""Change detection for the logical dump: which row ranges of which tables a backup re-encodes.

Rules:

- A table's rows are cut into *segments*: runs of consecutive leaf pages of its b-tree (about
  :data:`SEG_LEAVES` leaves each). A segment's record in the :class:`DbMap` holds its first leaf
  page, its leaf count, the first overflow page of every spilling cell, a fingerprint over all
  those pages (and, for index b-trees, the separator cells between its leaves), its row count
  and the size of its encoded bytes; the backup adds where its blobs sit in the node's content.
- Reuse: a segment of the previous map is reused — its blobs taken over without reading or
  downloading them — only if, in the current tree, its first leaf starts a run of the same
  length whose fingerprint (recomputed from the current pages) is equal, and the table's
  identity (section record, ``CREATE`` statement, page geometry, stream version) is unchanged.
  Equal pages mean equal cells, so equal rows in equal order; the run being consecutive in the
  current tree means no other row falls between them.
- Everything else — the gaps between reused runs — becomes new segments, dumped by key range:
  ``rowid > lo AND rowid <= hi`` for table b-trees (``lo``/``hi`` are the separators around the
  run), ``(pk...) > (lo...) AND (pk...) <= (hi...)`` for index b-trees (WITHOUT ROWID), whose
  separators are rows themselves and belong to the segment on their left.
- A table is cut into ranges only when SQLite confirms (``EXPLAIN QUERY PLAN``) that the dump
  order is its b-tree order and the range query walks that b-tree; otherwise it is one segment,
  dumped whole with the ordinary query, and reused only if every leaf of it is unchanged. Any
  :class:`~coffer.sqlite.btree.BtreeError` makes the table one segment that is dumped whole.

Theory: a day of chat changes a few hundred leaves of a 137k-leaf table (appends at the end, a
few in-place updates). The fingerprints read every leaf (I/O at disk speed, hashing in C), but
the Python work — fetching and encoding rows — is proportional to the changed segments.
"""

from __future__ import annotations

import os
import struct
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field

import blake3
import msgspec

from coffer.sqlite.btree import (
    LEAF_INDEX,
    LEAF_TABLE,
    BtreeError,
    Geometry,
    Tree,
    chain,
    overflow_heads,
)

SEG_LEAVES = 64
MAP_VERSION = 1
_PGNO = struct.Struct(">I")


class Seg(msgspec.Struct, array_like=True):
    first: int
    leaves: int
    fp: bytes
    heads: list[int]
    rows: int
    nbytes: int
    start: int = 0
    blobs: int = 0


class SectionMap(msgspec.Struct, array_like=True):
    name: str
    ident: bytes
    segs: list[Seg]


class DbMap(msgspec.Struct, array_like=True):
    version: int
    ident: bytes
    sections: list[SectionMap]

    def encode(self) -> bytes:
        return msgspec.msgpack.encode(self)

    @classmethod
    def decode(cls, data: bytes) -> DbMap | None:
        """The map, or None when it is unreadable or of another version (then nothing is reused)."""
        try:
            found = msgspec.msgpack.decode(data, type=cls)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return None
        return found if found.version == MAP_VERSION else None


class Pages:
    """Reads pages of the database file (inside the caller's read transaction)."""

    def __init__(self, fd: int, geo: Geometry) -> None:
        self.fd = fd
        self.geo = geo

    def read(self, pgno: int) -> bytes:
        size = self.geo.page_size
        data = os.pread(self.fd, size, (pgno - 1) * size)
        if len(data) != size:
            raise BtreeError(f"page {pgno} is past the end of the file")
        return data

    def run(self, first: int, count: int) -> bytes:
        size = self.geo.page_size
        data = os.pread(self.fd, size * count, (first - 1) * size)
        if len(data) != size * count:
            raise BtreeError(f"pages {first}+{count} are past the end of the file")
        return data


def _runs(leaves: array[int], i: int, j: int) -> Iterator[tuple[int, int]]:
    """Maximal runs of consecutive page numbers in ``leaves[i:j]``: (first, count)."""
    k = i
    while k < j:
        first = leaves[k]
        n = 1
        while k + n < j and leaves[k + n] == first + n and n < 256:
            n += 1
        yield first, n
        k += n


def fingerprint(pages: Pages, tree: Tree, i: int, j: int, heads: list[int]) -> bytes:
    """16-byte BLAKE3 over leaves ``i..j-1`` (numbers and bytes), separators, overflow chains.

    Hashing every leaf of the database is the one cost of a backup that grows with its size,
    so BLAKE3 may use every core for it (the digest does not depend on the thread count).
    """
    h = blake3.blake3(max_threads=blake3.blake3.AUTO)
    size = pages.geo.page_size
    leaf = LEAF_TABLE if tree.intkey else LEAF_INDEX
    for first, n in _runs(tree.leaves, i, j):
        data = pages.run(first, n)
        if first == 1 or any(data[k] != leaf for k in range(0, n * size, size)):
            raise BtreeError(f"a page of {first}+{n} is not a leaf of this tree")
        h.update(b"L" + _PGNO.pack(first) + _PGNO.pack(n))
        h.update(data)
    if not tree.intkey:
        for k in range(i, min(j, len(tree.seps))):
            sep = tree.seps[k]
            assert isinstance(sep, bytes)
            h.update(b"S" + _PGNO.pack(len(sep)) + sep + _PGNO.pack(tree.sep_heads[k]))
    for head in heads:
        for pgno in chain(pages.read, head, pages.geo):
            h.update(b"O" + _PGNO.pack(pgno) + pages.read(pgno))
    return h.digest(16)


def heads_of(pages: Pages, tree: Tree, i: int, j: int) -> list[int]:
    """Overflow heads of leaves ``i..j-1`` (cell order), then of their separators."""
    heads: list[int] = []
    size = pages.geo.page_size
    for first, n in _runs(tree.leaves, i, j):
        data = memoryview(pages.run(first, n))
        for k in range(n):
            heads += overflow_heads(data[k * size : (k + 1) * size], first + k, pages.geo)
    if not tree.intkey:
        heads += [h for h in tree.sep_heads[i : min(j, len(tree.seps))] if h]
    return heads


@dataclass
class Piece:
    """One segment of the plan: leaves ``i..j-1``; ``old`` is the reusable previous record."""

    i: int
    j: int
    old: Seg | None = None


@dataclass
class TablePlan:
    tree: Tree | None
    pieces: list[Piece] = field(default_factory=list)


def plan_table(
    pages: Pages, tree: Tree, old: list[Seg], ranged: bool, seg_leaves: int = SEG_LEAVES
) -> list[Piece]:
    """Segments of the current tree: reused runs of ``old`` and new ones over the gaps."""
    n = len(tree.leaves)
    if not ranged:
        whole = old[0] if len(old) == 1 else None
        same = whole is not None and whole.leaves == n and n > 0 and whole.first == tree.leaves[0]
        if same and whole is not None and fingerprint(pages, tree, 0, n, whole.heads) == whole.fp:
            return [Piece(0, n, whole)]
        return [Piece(0, n)]
    starts: dict[int, Seg] = {s.first: s for s in old}
    pieces: list[Piece] = []
    gap = 0
    k = 0
    while k < n:
        seg = starts.get(tree.leaves[k])
        if _matches(pages, tree, k, seg):
            assert seg is not None
            pieces += _split(gap, k, seg_leaves)
            pieces.append(Piece(k, k + seg.leaves, seg))
            k += seg.leaves
            gap = k
            continue
        k += 1
    pieces += _split(gap, n, seg_leaves)
    return pieces or [Piece(0, 0)]


def _matches(pages: Pages, tree: Tree, k: int, seg: Seg | None) -> bool:
    if seg is None or seg.leaves <= 0 or k + seg.leaves > len(tree.leaves):
        return False
    return fingerprint(pages, tree, k, k + seg.leaves, seg.heads) == seg.fp


def _split(a: int, b: int, seg_leaves: int) -> list[Piece]:
    """New segments over leaves ``a..b-1``, of about ``seg_leaves`` leaves each."""
    if b <= a:
        return []
    # fixed strides from the start of the gap, so appending leaves at the end of a table keeps
    # every earlier boundary; a remainder under half a stride joins the last segment
    cuts = list(range(a, b, seg_leaves))
    if len(cuts) > 1 and b - cuts[-1] < seg_leaves // 2:
        cuts.pop()
    return [Piece(x, y) for x, y in zip(cuts, [*cuts[1:], b], strict=True)]


def leaves_per_segment(tree: Tree) -> int:
    """:data:`SEG_LEAVES`, more for very large tables so the map stays small."""
    return max(SEG_LEAVES, len(tree.leaves) // 8192)


def bounds(tree: Tree, piece: Piece) -> tuple[int | None, int | None]:
    """Indexes of the separators around the piece: (exclusive lower, inclusive upper); None
    where the range is open."""
    lo = piece.i - 1 if piece.i > 0 else None
    hi = piece.j - 1 if 0 < piece.j <= len(tree.seps) else None
    return lo, hi
