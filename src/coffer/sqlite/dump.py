"""The logical dump, format version 2, cut into pieces a backup can chunk (or reuse) one by one.

Rules:

- :class:`Dumper` writes the stream of :mod:`.logical` inside one read transaction: magic,
  header, schema, then per section ``T``, row blocks (``B``, :mod:`.codec2`) segment by segment,
  ``E`` (row count), and finally ``Z``. What it writes is a list of :class:`Output` pieces:
  *glue* (records around the segments), *new* segments, and *reused* segments whose bytes it
  does not write at all (the previous snapshot holds them; see :mod:`.segments`).
- Concatenating every piece — reused ones from the previous snapshot — gives exactly the stream
  a full dump gives (the oracle test checks this after random changes).
- Pages are read from the file the transaction reads. That is only the transaction's view when
  no WAL frames are in play, so a database in WAL mode whose ``-wal`` file is not empty is
  first copied with the online-backup API and the copy is dumped (the header keeps ``wal``).
- Without a usable page view (a :class:`~coffer.sqlite.btree.BtreeError`, a virtual table's
  content, a table without a b-tree root) a section is one segment, dumped whole, not reused.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from coffer.sqlite.btree import BtreeError, Geometry, Tree, chain, record_values, walk
from coffer.sqlite.capture import consistent_copy
from coffer.sqlite.codec import (
    MAGIC,
    TAG_END,
    TAG_END_TABLE,
    TAG_HEADER,
    TAG_SCHEMA,
    TAG_TABLE,
    encode_values,
    varint,
)
from coffer.sqlite.codec2 import BLOCK_ROWS, TAG_BLOCK, BlockWriter, raw_text_factory, whole_block
from coffer.sqlite.schema import HEADER_PRAGMAS, Plan, Section, plan, quote, select_sql
from coffer.sqlite.segments import (
    MAP_VERSION,
    DbMap,
    Pages,
    Piece,
    SectionMap,
    Seg,
    bounds,
    fingerprint,
    heads_of,
    leaves_per_segment,
    plan_table,
)

FORMAT_VERSION = 2
FETCH = BLOCK_ROWS  # one fetched batch fills one block exactly (whole_block)
TAG_MAP = ord("M")
RANGED_KINDS = ("rowid", "plain")
GLUE = -1


@dataclass
class Output:
    """One piece of the stream: ``length`` bytes written (0 when reused), its map position."""

    length: int
    section: int = GLUE
    seg: int = GLUE
    reused: bool = False


@dataclass
class DumpResult:
    pieces: list[Output] = field(default_factory=list)
    map: DbMap | None = None
    schema_objects: int = 0
    sections: int = 0
    rows: int = 0
    bytes: int = 0
    reused_rows: int = 0


Sink = Callable[[bytes], None]


class Dumper:
    """One dump of an open database (inside its read transaction) to ``sink``."""

    def __init__(self, conn: sqlite3.Connection, pages: Pages | None, old: DbMap | None,
                 sink: Sink, journal_mode: str | None = None) -> None:  # fmt: skip
        self.conn = conn
        self.pages = pages
        self.sink = sink
        self.journal_mode = journal_mode
        self.result = DumpResult()
        self._glue = bytearray()
        self._old = self._usable_old(old)
        self._key_width = 0

    def _ident(self) -> bytes:
        if self.pages is None:
            return b""
        geo = self.pages.geo
        encoding = self.conn.execute("PRAGMA main.encoding").fetchone()[0]
        return bytes(encode_values((FORMAT_VERSION, geo.page_size, geo.usable, str(encoding))))

    def _usable_old(self, old: DbMap | None) -> dict[str, SectionMap]:
        if old is None or self.pages is None or old.ident != self._ident():
            return {}
        return {s.name: s for s in old.sections}

    # -- records ---------------------------------------------------------------------------
    def _record(self, tag: int, payload: bytes | bytearray) -> None:
        self._glue.append(tag)
        self._glue += varint(len(payload))
        self._glue += payload

    def _flush_glue(self) -> None:
        if self._glue:
            self._emit(bytes(self._glue), Output(len(self._glue)))
            self._glue = bytearray()

    def _emit(self, data: bytes, out: Output) -> None:
        if data:
            self.sink(data)
        self.result.bytes += len(data)
        self.result.pieces.append(out)

    # -- the stream --------------------------------------------------------------------------
    def run(self, the_plan: Plan) -> DumpResult:
        res = self.result
        self._glue += MAGIC
        self._record(TAG_HEADER, encode_values(self._header()))
        for obj in the_plan.objects:
            self._record(TAG_SCHEMA, encode_values((obj.type, obj.name, obj.tbl_name, obj.sql)))
        sql_of = {o.name: o.sql for o in the_plan.objects}
        sections = []
        for index, section in enumerate(the_plan.sections):
            sections.append(self._section(index, section, sql_of.get(section.name, "")))
        self._record(TAG_END, encode_values((len(the_plan.sections), res.rows)))
        self._flush_glue()
        res.schema_objects, res.sections = len(the_plan.objects), len(the_plan.sections)
        if self.pages is not None:
            res.map = DbMap(MAP_VERSION, self._ident(), sections)
        return res

    def _header(self) -> list[Any]:
        values: list[Any] = ["version", FORMAT_VERSION]
        for name in HEADER_PRAGMAS:
            (value,) = self.conn.execute(f"PRAGMA main.{name}").fetchone()
            if name == "journal_mode" and self.journal_mode is not None:
                value = self.journal_mode
            values += [name, value.decode() if isinstance(value, bytes | bytearray) else value]
        return values

    def _section(self, index: int, section: Section, create_sql: str) -> SectionMap:
        head = bytes(encode_values((section.kind, section.name, *section.columns)))
        self._record(TAG_TABLE, head)
        ident = head + b"\x00" + create_sql.encode("utf-8", "surrogateescape")
        old = self._old.get(section.name)
        old_segs = old.segs if old is not None and old.ident == ident else []
        tree, ranged = self._tree(section)
        pieces = [Piece(0, 0)]
        if tree is not None and self.pages is not None:
            try:
                pieces = plan_table(self.pages, tree, old_segs, ranged, leaves_per_segment(tree))
            except BtreeError:
                tree, ranged = None, False
        segs: list[Seg] = []
        count = 0
        for piece in pieces:
            seg = self._segment(index, len(segs), section, tree, ranged, piece)
            count += seg.rows
            if tree is not None:
                segs.append(seg)
        self._record(TAG_END_TABLE, encode_values((count,)))
        self.result.rows += count
        return SectionMap(section.name, ident, segs)

    def _tree(self, section: Section) -> tuple[Tree | None, bool]:
        if self.pages is None or section.kind == "vtab":
            return None, False
        row = self.conn.execute(
            "SELECT rootpage FROM main.sqlite_schema WHERE type = 'table' AND name = ?",
            (section.name,),
        ).fetchone()
        if row is None or not isinstance(row[0], int) or row[0] < 2:
            return None, False
        try:
            tree = walk(self.pages.read, row[0], self.pages.geo)
        except BtreeError:
            return None, False
        return tree, section.kind in RANGED_KINDS and self._range_ok(section, tree)

    def _range_ok(self, section: Section, tree: Tree) -> bool:
        """SQLite's own word that the range query walks the b-tree in the dump's order."""
        if not tree.intkey and self.conn.execute("PRAGMA main.encoding").fetchone()[0] != "UTF-8":
            return False
        if tree.intkey and len(section.order_by) != 1:
            return False
        if not tree.intkey and not self._ascending_binary_key(section):
            return False
        sql, nargs = _range_sql(section, tree, True, True)
        try:
            details = [r[3] for r in self.conn.execute("EXPLAIN QUERY PLAN " + sql, [0] * nargs)]
        except sqlite3.Error:
            return False
        want = "USING INTEGER PRIMARY KEY" if tree.intkey else "USING PRIMARY KEY"
        return (
            len(details) == 1
            and details[0].startswith("SEARCH")
            and want in details[0]
            and "TEMP B-TREE" not in details[0]
        )

    def _ascending_binary_key(self, section: Section) -> bool:
        """A WITHOUT ROWID key whose columns are all ASC and BINARY, in the dump's order.

        ``EXPLAIN QUERY PLAN`` alone does not tell: for ``PRIMARY KEY (k DESC)`` the range
        query is still a ``SEARCH … USING PRIMARY KEY``, walked backwards, while the b-tree's
        separators run the other way (the oracle found this).
        """
        pk = [r for r in self.conn.execute(f"PRAGMA main.index_list({quote(section.name)})")
              if r[3] == "pk"]  # fmt: skip
        if len(pk) != 1:
            return False
        info = self.conn.execute(f"PRAGMA main.index_xinfo({quote(str(pk[0][1]))})").fetchall()
        key = [r for r in info if r[5] == 1]
        return [r[2] for r in key] == list(section.order_by) and all(
            r[3] == 0 and str(r[4]).upper() == "BINARY" for r in key
        )

    def _segment(self, index: int, number: int, section: Section, tree: Tree | None,
                 ranged: bool, piece: Piece) -> Seg:  # fmt: skip
        if piece.old is not None:
            self._flush_glue()
            self._emit(b"", Output(0, index, number, True))
            self.result.reused_rows += piece.old.rows
            return msgspec.structs.replace(piece.old, heads=list(piece.old.heads))
        self._flush_glue()
        if ranged and tree is not None:
            lo, hi = bounds(tree, piece)
            sql, _ = _range_sql(section, tree, lo is not None, hi is not None)
            self._key_width = len(section.order_by)
            args = self._key(tree, lo) + self._key(tree, hi)
        else:
            sql, args = select_sql(section), []
        nbytes, rows = self._rows(sql, args)
        self.result.bytes += nbytes
        self.result.pieces.append(Output(nbytes, index, number))
        if tree is None or self.pages is None:
            return Seg(0, 0, b"", [], rows, nbytes)
        try:
            heads = heads_of(self.pages, tree, piece.i, piece.j)
            fp = fingerprint(self.pages, tree, piece.i, piece.j, heads)
        except BtreeError:
            heads, fp = [], b""  # recorded, never matched: dumped again next time
        first = tree.leaves[piece.i] if piece.j > piece.i else 0
        return Seg(first, piece.j - piece.i, fp, heads, rows, nbytes)

    def _key(self, tree: Tree, k: int | None) -> list[Any]:
        """Bind values for separator ``k`` (none when the range is open on that side)."""
        if k is None:
            return []
        sep = tree.seps[k]
        if isinstance(sep, int):
            return [sep]
        values = record_values(self._full_payload(tree, k), "utf-8")
        return values[: self._key_width]

    def _full_payload(self, tree: Tree, k: int) -> bytes:
        """Separator ``k``'s payload with its overflow chain, if it has one."""
        local = tree.seps[k]
        assert isinstance(local, bytes)
        head = tree.sep_heads[k]
        if not head:
            return local
        assert self.pages is not None
        parts = [local]
        for pgno in chain(self.pages.read, head, self.pages.geo):
            parts.append(self.pages.read(pgno)[4 : self.pages.geo.usable])
        return b"".join(parts)

    def _rows(self, sql: str, args: list[Any]) -> tuple[int, int]:
        """Write the block records of a query's rows; (bytes written, rows).

        TEXT arrives as ``str`` (decoded in C); if a value is not valid UTF-8 the query runs
        again with the slow factory that keeps such values as :class:`RawText`, skipping the
        rows already written, so the blocks are the same as a slow run from the start.
        """
        done = [0, 0]  # bytes written, rows written in finished blocks
        try:
            return self._rows_with(sql, args, str, done)
        except _Undecodable:
            return self._rows_with(sql, args, raw_text_factory, done)

    def _rows_with(
        self, sql: str, args: list[Any], factory: Any, done: list[int]
    ) -> tuple[int, int]:
        self.conn.text_factory = factory
        writer = BlockWriter()
        skip = done[1]
        try:
            cursor = self.conn.execute(sql, args)
            while True:
                try:
                    batch = cursor.fetchmany(FETCH)
                except sqlite3.OperationalError as exc:
                    if factory is str and "decode" in str(exc).lower():
                        raise _Undecodable from exc
                    raise
                if not batch:
                    break
                if skip:
                    drop = min(skip, len(batch))
                    batch, skip = batch[drop:], skip - drop
                whole = whole_block(batch) if writer.rows == 0 else None
                if whole is not None:  # the same block the row-by-row path makes, in one call
                    self._record_block(whole, len(batch), done)
                    continue
                for row in batch:
                    if writer.add(row):
                        self._block(writer, done)
            self._block(writer, done)
        finally:
            self.conn.text_factory = str
        return done[0], done[1]

    def _block(self, writer: BlockWriter, done: list[int]) -> None:
        rows = writer.rows
        payload = writer.take()
        if payload is not None:
            self._record_block(payload, rows, done)

    def _record_block(self, payload: bytes, rows: int, done: list[int]) -> None:
        record = bytes((TAG_BLOCK,)) + varint(len(payload)) + payload
        self.sink(record)
        done[0] += len(record)
        done[1] += rows


class _Undecodable(Exception):
    """A TEXT value is not valid UTF-8: the segment is read again with the slow text factory."""


def _range_sql(section: Section, tree: Tree, lower: bool, upper: bool) -> tuple[str, int]:
    base = select_sql(section)
    head, order = base.split(" ORDER BY ", 1)
    if tree.intkey:
        key = section.order_by[0]
        col = key if key == section.rowid else quote(key)
        lhs, marks, width = col, "?", 1
    else:
        cols = ", ".join(quote(c) for c in section.order_by)
        width = len(section.order_by)
        lhs, marks = f"({cols})", "(" + ", ".join("?" * width) + ")"
    terms = ([f"{lhs} > {marks}"] if lower else []) + ([f"{lhs} <= {marks}"] if upper else [])
    where = f" WHERE {' AND '.join(terms)}" if terms else ""
    return f"{head}{where} ORDER BY {order}", width * (int(lower) + int(upper))


def dump(db_path: Path, sink: Sink, old: DbMap | None = None,
         tmpdir: str | None = None) -> DumpResult:  # fmt: skip
    """Dump ``db_path`` (see the module rules); raises :class:`sqlite3.Error` on failure."""
    from coffer.sqlite.logical import open_readonly

    db_path = Path(db_path)
    with contextlib.closing(open_readonly(db_path)) as conn:
        conn.text_factory = str
        conn.execute("BEGIN")
        try:
            the_plan = plan(conn)
            mode = str(conn.execute("PRAGMA main.journal_mode").fetchone()[0])
            if mode == "wal" and _wal_bytes(db_path) > 0:
                conn.execute("ROLLBACK")
                conn.close()
                with consistent_copy(db_path, tmpdir) as (copy, _size):
                    _to_rollback_journal(copy)
                    return _dump_open(copy, sink, old, "wal")
            with _pages(db_path) as pages:
                return Dumper(conn, pages, old, sink).run(the_plan)
        finally:
            with contextlib.suppress(sqlite3.Error):
                if conn.in_transaction:
                    conn.execute("ROLLBACK")


def _dump_open(copy: Path, sink: Sink, old: DbMap | None, journal_mode: str) -> DumpResult:
    from coffer.sqlite.logical import open_readonly

    with contextlib.closing(open_readonly(copy)) as conn:
        conn.text_factory = str
        conn.execute("BEGIN")
        the_plan = plan(conn)
        with _pages(copy) as pages:
            result = Dumper(conn, pages, old, sink, journal_mode).run(the_plan)
        conn.execute("ROLLBACK")
        return result


def _to_rollback_journal(copy: Path) -> None:
    with contextlib.closing(sqlite3.connect(copy, isolation_level=None)) as conn:
        conn.execute("PRAGMA journal_mode = DELETE")


def _wal_bytes(db_path: Path) -> int:
    try:
        return os.stat(f"{db_path}-wal").st_size
    except FileNotFoundError:
        return 0


@contextlib.contextmanager
def _pages(db_path: Path) -> Iterator[Pages | None]:
    """The file's pages, or None when its header does not describe a b-tree file we can read."""
    fd = os.open(db_path, os.O_RDONLY)
    try:
        try:
            geo = Geometry.from_header(os.pread(fd, 100, 0), os.fstat(fd).st_size)
        except (BtreeError, struct.error):
            yield None
            return
        yield Pages(fd, geo)
    finally:
        os.close(fd)
