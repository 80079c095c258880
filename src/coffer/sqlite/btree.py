"""Reading SQLite's b-tree pages directly: which leaf pages hold a table, in key order.

Rules (sans-I/O: every function takes page bytes, or a ``read(pgno) -> bytes`` callable):

- Only the structure SQLite documents in its file format is interpreted: page types 2/5/10/13,
  cell pointer arrays, interior child pointers, the payload/overflow split, overflow chains.
  Anything else — an unknown page type, a child pointer outside the file, a tree deeper than
  :data:`MAX_DEPTH`, more pages than the file has — raises :class:`BtreeError`; callers then
  treat the table as changed (a full dump of it), never as unchanged.
- :func:`walk` lists a tree in key order as leaf page numbers and, between two leaves, the
  *separator* that an interior page holds there: a rowid (table b-trees, where separators are
  not rows) or a cell's local payload (index b-trees — WITHOUT ROWID tables — where every
  interior cell is a row).
- :func:`overflow_heads` finds the first overflow page of every cell of a page that spills;
  :func:`chain` follows an overflow chain.

Theory: a leaf page's bytes and the overflow pages its cells point to determine its rows
exactly. So if a run of leaves is byte-identical to a run seen by the previous backup, and is
still a run in the current tree, its rows are the rows the previous backup dumped.
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

INTERIOR_INDEX, INTERIOR_TABLE, LEAF_INDEX, LEAF_TABLE = 2, 5, 10, 13
MAX_DEPTH = 24
Reader = Callable[[int], bytes]


class BtreeError(Exception):
    """The pages do not form the b-tree the file format describes (treat the table as changed)."""


@dataclass
class Tree:
    """A b-tree in key order: ``leaves[i]`` is followed by ``seps[i]`` (none after the last)."""

    intkey: bool
    leaves: array[int] = field(default_factory=lambda: array("I"))
    seps: Any = field(default_factory=list)
    """:class:`RowidSeparators` (table b-trees) or the local payloads (bytes) of index cells."""
    sep_heads: list[int] = field(default_factory=list)
    """For index trees: the first overflow page of each separator (0 when it has none)."""


@dataclass(frozen=True)
class Geometry:
    page_size: int
    usable: int
    page_count: int

    @classmethod
    def from_header(cls, header: bytes, file_size: int) -> Geometry:
        raw = struct.unpack_from(">H", header, 16)[0]
        page_size = 65536 if raw == 1 else raw
        if page_size < 512 or page_size & (page_size - 1):
            raise BtreeError("bad page size")
        usable = page_size - header[20]
        if usable < 480:
            raise BtreeError("bad reserved space")
        return cls(page_size, usable, file_size // page_size)

    def max_local(self, intkey_leaf: bool) -> int:
        return self.usable - 35 if intkey_leaf else (self.usable - 12) * 64 // 255 - 23

    def min_local(self) -> int:
        return (self.usable - 12) * 32 // 255 - 23


def varint(buf: bytes | memoryview, pos: int) -> tuple[int, int]:
    """SQLite's big-endian varint at ``pos``: (value, next position)."""
    result = 0
    for i in range(8):
        byte = buf[pos + i]
        result = (result << 7) | (byte & 0x7F)
        if byte < 0x80:
            return result, pos + i + 1
    return (result << 8) | buf[pos + 8], pos + 9


def _header(page: bytes | memoryview, pgno: int) -> tuple[int, int, int]:
    """(page type, number of cells, offset of the cell pointer array)."""
    base = 100 if pgno == 1 else 0
    kind = page[base]
    if kind not in (INTERIOR_INDEX, INTERIOR_TABLE, LEAF_INDEX, LEAF_TABLE):
        raise BtreeError(f"page {pgno} is not a b-tree page")
    ncells = struct.unpack_from(">H", page, base + 3)[0]
    return kind, ncells, base + (12 if kind in (INTERIOR_INDEX, INTERIOR_TABLE) else 8)


def _pointers(page: bytes | memoryview, ncells: int, start: int) -> tuple[int, ...]:
    if start + 2 * ncells > len(page):
        raise BtreeError("cell pointer array past the page end")
    return struct.unpack_from(f">{ncells}H", page, start)


def walk(read: Reader, root: int, geo: Geometry) -> Tree:
    """The tree rooted at ``root`` in key order (see :class:`Tree`)."""
    first = read(root)
    kind = _header(first, root)[0]
    intkey = kind in (INTERIOR_TABLE, LEAF_TABLE)
    tree = Tree(intkey=intkey, seps=RowidSeparators(read) if intkey else [])
    budget = [geo.page_count]
    _walk(read, root, first, geo, tree, 0, budget)
    return tree


def _walk(
    read: Reader, pgno: int, page: bytes, geo: Geometry, tree: Tree, depth: int, budget: list[int]
) -> None:
    budget[0] -= 1
    if depth > MAX_DEPTH or budget[0] < 0:
        raise BtreeError("tree too deep or cyclic")
    kind, ncells, start = _header(page, pgno)
    if (kind in (INTERIOR_TABLE, LEAF_TABLE)) != tree.intkey:
        raise BtreeError(f"page {pgno} mixes table and index b-trees")
    if kind in (LEAF_TABLE, LEAF_INDEX):
        tree.leaves.append(pgno)
        return
    base = 100 if pgno == 1 else 0
    pointers = _pointers(page, ncells, start)
    children = [struct.unpack_from(">I", page, ptr)[0] for ptr in pointers]
    right = struct.unpack_from(">I", page, base + 8)[0]
    children.append(right)
    if min(children) < 2 or max(children) > geo.page_count:
        raise BtreeError(f"a child of page {pgno} is outside the file")
    seps: list[tuple[Any, int]]
    if tree.intkey:
        # rowid separators are parsed only when a range needs one (RowidSeparators)
        seps = [((pgno << 16) | cell, 0) for cell in range(len(pointers))]
    else:
        seps = [_index_cell(page, ptr + 4, geo) for ptr in pointers]
    if _leaf_level(read, children[0], geo):
        budget[0] -= len(children)
        tree.leaves.extend(children)
        tree.seps.extend([sep for sep, _ in seps])
        if not tree.intkey:
            tree.sep_heads += [head for _, head in seps]
        return
    for child, pair in zip(children, [*seps, None], strict=True):
        _walk(read, child, read(child), geo, tree, depth + 1, budget)
        if pair is not None:
            tree.seps.append(pair[0])
            if not tree.intkey:
                tree.sep_heads.append(pair[1])


class RowidSeparators:
    """The rowid separators of a table b-tree, parsed from their interior page on demand.

    Holds (page number, cell index) per separator in 8 bytes; only the few separators around
    the segments a backup dumps are ever read (the walk itself parses child pointers only).
    """

    def __init__(self, read: Reader) -> None:
        self._read = read
        self._where = array("q")
        self._page: tuple[int, bytes] = (0, b"")

    def __len__(self) -> int:
        return len(self._where)

    def append(self, where: int) -> None:
        self._where.append(where)

    def extend(self, where: list[int]) -> None:
        self._where.extend(where)

    def __getitem__(self, k: int) -> int:
        where = self._where[k]
        pgno, cell = where >> 16, where & 0xFFFF
        if self._page[0] != pgno:
            self._page = (pgno, self._read(pgno))
        page = self._page[1]
        kind, ncells, start = _header(page, pgno)
        if kind != INTERIOR_TABLE or cell >= ncells:
            raise BtreeError(f"page {pgno} changed under the walk")
        ptr = struct.unpack_from(">H", page, start + 2 * cell)[0]
        if ptr + 5 > len(page):
            raise BtreeError("cell past the page end")
        return varint(page, ptr + 4)[0]


def _leaf_level(read: Reader, child: int, geo: Geometry) -> bool:
    """Whether the children of an interior page are leaves (all are: b-trees are balanced).

    Leaves are not read here; every leaf is read later (fingerprint or overflow scan), and a
    page found there not to be a leaf raises :class:`BtreeError`.
    """
    if not 1 < child <= geo.page_count:
        raise BtreeError(f"child page {child} outside the file")
    kind = _header(read(child), child)[0]
    return kind in (LEAF_TABLE, LEAF_INDEX)


def check_leaf(page: bytes, pgno: int, intkey: bool) -> None:
    kind = _header(page, pgno)[0]
    if kind != (LEAF_TABLE if intkey else LEAF_INDEX):
        raise BtreeError(f"page {pgno} is not a leaf of this tree")


def _local_size(payload: int, geo: Geometry, intkey_leaf: bool) -> int:
    biggest = geo.max_local(intkey_leaf)
    if payload <= biggest:
        return payload
    smallest = geo.min_local()
    k = smallest + (payload - smallest) % (geo.usable - 4)
    return k if k <= biggest else smallest


def _index_cell(page: bytes, pos: int, geo: Geometry) -> tuple[bytes, int]:
    """(local payload bytes, first overflow page or 0) of an index cell's payload at ``pos``."""
    payload, pos = varint(page, pos)
    local = _local_size(payload, geo, False)
    end = pos + local
    if end + (4 if local < payload else 0) > len(page):
        raise BtreeError("cell past the page end")
    head = struct.unpack_from(">I", page, end)[0] if local < payload else 0
    return bytes(page[pos:end]), head


def overflow_heads(page: bytes | memoryview, pgno: int, geo: Geometry) -> list[int]:
    """First overflow page of each cell of this leaf page that spills, in cell order."""
    kind, ncells, start = _header(page, pgno)
    if kind not in (LEAF_TABLE, LEAF_INDEX):
        raise BtreeError(f"page {pgno} is not a leaf")
    intkey = kind == LEAF_TABLE
    biggest = geo.max_local(intkey)
    pointers = _pointers(page, ncells, start)
    # a cell whose payload varint starts below this byte is at most `biggest` bytes long: one
    # C-level pass over the first bytes rules out most pages
    below = 0x80 + ((biggest + 1) >> 7)
    if not pointers or max(map(page.__getitem__, pointers)) < below:
        return []
    heads = []
    for ptr in pointers:
        if page[ptr] < below:
            continue
        payload, pos = varint(page, ptr)
        if payload <= biggest:
            continue
        if intkey:
            pos = varint(page, pos)[1]
        end = pos + _local_size(payload, geo, intkey)
        if end + 4 > len(page):
            raise BtreeError("cell past the page end")
        heads.append(struct.unpack_from(">I", page, end)[0])
    return heads


def chain(read: Reader, head: int, geo: Geometry) -> list[int]:
    """Page numbers of the overflow chain starting at ``head``."""
    pages: list[int] = []
    pgno = head
    while pgno:
        if not 1 < pgno <= geo.page_count or len(pages) >= geo.page_count:
            raise BtreeError("overflow chain leaves the file or loops")
        pages.append(pgno)
        pgno = struct.unpack_from(">I", read(pgno), 0)[0]
    return pages


def record_values(payload: bytes, encoding: str) -> list[int | float | str | bytes | None]:
    """Decode a record (the row format of a cell's payload); text in the database encoding."""
    size, pos = varint(payload, 0)
    types = []
    while pos < size:
        t, pos = varint(payload, pos)
        types.append(t)
    if pos != size:
        raise BtreeError("record header overruns")
    values: list[int | float | str | bytes | None] = []
    for t in types:
        value, pos = _value(payload, pos, t, encoding)
        values.append(value)
    if pos > len(payload):
        raise BtreeError("record body overruns")
    return values


_INT_SIZES = {1: 1, 2: 2, 3: 3, 4: 4, 5: 6, 6: 8}


def _value(
    buf: bytes, pos: int, t: int, encoding: str
) -> tuple[int | float | str | bytes | None, int]:
    if t == 0:
        return None, pos
    if t in _INT_SIZES:
        n = _INT_SIZES[t]
        return int.from_bytes(buf[pos : pos + n], "big", signed=True), pos + n
    if t == 7:
        return struct.unpack_from(">d", buf, pos)[0], pos + 8
    if t in (8, 9):
        return t - 8, pos
    if t < 12:
        raise BtreeError(f"reserved serial type {t}")
    n = (t - 12) // 2
    data = bytes(buf[pos : pos + n])
    if len(data) != n:
        raise BtreeError("record value overruns")
    if t % 2 == 0:
        return data, pos + n
    try:
        return data.decode(encoding), pos + n
    except UnicodeDecodeError:
        raise BtreeError("key text is not valid in the database encoding") from None
