"""``restore_logical``: rebuild a database from a logical stream (see :mod:`.logical`).

Rules: the stream is checked as it is read (magic, version, header fields, record order, section
kinds, per-section row counts); a stream that does not fit raises
:class:`~coffer.sqlite.codec.LogicalFormatError` and leaves nothing behind. The
database is built in a temporary file beside the target and appears under the target name only
after ``PRAGMA integrity_check`` and every FTS5 table's ``integrity-check`` pass, via a hard link
that refuses to replace an existing file.

Theory (order of work): header pragmas that must precede any table (page_size, auto_vacuum,
encoding) → CREATE TABLE / CREATE VIRTUAL TABLE in stream order → rows section by section (one
transaction, no journal, foreign keys off, triggers not yet created so none fire) → indexes and
views → FTS5 'rebuild' for external-content tables (their content may be a view) → triggers
(INSTEAD OF triggers need their view) → user_version, application_id → commit → checks →
journal_mode=WAL if the source was in WAL mode.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, suppress
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import BinaryIO

from coffer.errors import UsageError
from coffer.sqlite.codec import (
    FORMAT_VERSION,
    MAGIC,
    TAG_END,
    TAG_END_TABLE,
    TAG_HEADER,
    TAG_ROW,
    TAG_SCHEMA,
    TAG_TABLE,
    LogicalFormatError,
    RawText,
    RecordReader,
    Value,
    decode_row,
    decode_values,
)
from coffer.sqlite.codec2 import TAG_BLOCK, decode_block
from coffer.sqlite.schema import (
    HEADER_PRAGMAS,
    SchemaObject,
    Section,
    insert_sql,
    module_of,
    quote,
    rowid_name,
)

BATCH = 1_000
ROWS_PER_INSERT = 32
PARAMS_PER_INSERT = 999
FORMAT_V2 = 2
TAG_MAP = ord("M")
# the file is private until it is linked into place: no journal, no syncs but the final fsync,
# no other connection. A small page cache (2 MiB), which is also the size of the sorted runs
# CREATE INDEX spills to temporary files, and no sorter threads: rows are appended in key order
# (the cache only needs each b-tree's right edge), and on the 138 MB bench database the two
# CREATE INDEX on messages took 1.3-1.5 s of CPU with runs of 1-4 MiB against 1.8-2.3 s with
# 16 MiB, and more with a second sorter thread; the rebuild's peak RSS fell from 56 to 25 MB.
PRIVATE_PRAGMAS = (
    "journal_mode = OFF",
    "synchronous = OFF",
    "foreign_keys = OFF",
    "locking_mode = EXCLUSIVE",
    "cache_size = -2048",
    "temp_store = FILE",
    "threads = 0",
)
ROWID_KINDS = {"rowid", "vtab", "shadow-rowid", "internal"}
KINDS = ROWID_KINDS | {"plain", "shadow-plain"}
ENCODINGS = {"UTF-8", "UTF-16le", "UTF-16be"}
PAGE_SIZES = {1 << n for n in range(9, 17)}


class RestoreTargetExists(UsageError):
    """``restore_logical`` was pointed at a path that already exists."""


class RestoreCheckFailed(LogicalFormatError):
    """The rebuilt database failed ``PRAGMA integrity_check`` or an FTS5 integrity check."""


@dataclass(frozen=True)
class Header:
    application_id: int
    auto_vacuum: int
    encoding: str
    journal_mode: str
    page_size: int
    user_version: int


@dataclass(frozen=True)
class RestoreStats:
    schema_objects: int
    sections: int
    rows: int
    bytes: int
    seconds: float


def restore_logical(stream: BinaryIO, db_path: Path, *, full_check: bool = True) -> RestoreStats:
    """Create the database ``db_path`` (which must not exist) from a logical stream.

    ``full_check=False`` runs ``PRAGMA quick_check`` instead of ``integrity_check`` (it skips
    comparing the freshly built indexes with their tables: 0.2 s instead of 1.8 s of CPU on the
    138 MB bench database).
    """
    started = time.perf_counter()
    db_path = Path(db_path)
    if db_path.exists():
        raise RestoreTargetExists(f"{db_path} already exists")
    tmp = db_path.with_name(f".{db_path.name}.restore-{os.getpid()}")
    _remove(tmp)
    try:
        restorer = _Restorer(RecordReader(stream), tmp, full_check)
        restorer.run()
        _fsync(tmp)
        try:
            os.link(tmp, db_path)
        except FileExistsError:
            raise RestoreTargetExists(f"{db_path} appeared during the restore") from None
    finally:
        _remove(tmp)
    return RestoreStats(
        schema_objects=len(restorer.objects), sections=restorer.sections, rows=restorer.rows,
        bytes=restorer.reader.bytes_read, seconds=time.perf_counter() - started,
    )  # fmt: skip


def _remove(path: Path) -> None:
    for suffix in ("", "-journal", "-wal", "-shm"):
        with suppress(FileNotFoundError):
            os.unlink(f"{path}{suffix}")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _Restorer:
    def __init__(self, reader: RecordReader, path: Path, full_check: bool) -> None:
        self.reader = reader
        self.path = path
        self.full_check = full_check
        self.objects: list[SchemaObject] = []
        self.sections = 0
        self.rows = 0
        self.version = FORMAT_VERSION

    def run(self) -> None:
        if self.reader.exact(len(MAGIC)) != MAGIC:
            raise LogicalFormatError("not a Coffer SQLite logical stream")
        records = self.reader.records()
        header = self._header(_next(records, TAG_HEADER)[1])
        with closing(sqlite3.connect(self.path, isolation_level=None)) as conn:
            try:
                self._build(conn, header, records)
            except sqlite3.Error as exc:
                raise LogicalFormatError(f"stream does not fit its schema: {exc}") from exc
            _check(conn, self.objects, self.full_check)
            if header.journal_mode == "wal":
                conn.execute("PRAGMA journal_mode = WAL")

    def _build(
        self,
        conn: sqlite3.Connection,
        header: Header,
        records: Iterator[tuple[int, bytes]],
    ) -> None:
        conn.execute(f"PRAGMA page_size = {header.page_size}")
        conn.execute(f"PRAGMA auto_vacuum = {header.auto_vacuum}")
        conn.execute(f"PRAGMA encoding = '{header.encoding}'")
        for pragma in PRIVATE_PRAGMAS:
            conn.execute(f"PRAGMA {pragma}")
        conn.execute("BEGIN")
        tag, payload = self._schema(conn, records)
        while tag == TAG_TABLE:
            self._section(conn, payload, records)
            tag, payload = _next(records, None)
        if tag != TAG_END:
            raise LogicalFormatError(f"unexpected record {chr(tag)!r} after a section")
        self._end(payload, records)
        self._finish_schema(conn)
        conn.execute(f"PRAGMA user_version = {header.user_version}")
        conn.execute(f"PRAGMA application_id = {header.application_id}")
        conn.execute("COMMIT")

    def _header(self, payload: bytes) -> Header:
        values = decode_values(payload)
        if values[:1] != ["version"] or values[1:2] not in ([FORMAT_VERSION], [FORMAT_V2]):
            raise LogicalFormatError(f"unsupported logical format {values[:2]!r}")
        self.version = int(values[1])  # type: ignore[arg-type]
        if list(values[2::2]) != list(HEADER_PRAGMAS) or len(values) % 2:
            raise LogicalFormatError("header fields do not match the format version")
        pairs = dict(zip(HEADER_PRAGMAS, values[3::2], strict=True))
        texts = {"encoding", "journal_mode"}
        if not all(type(v) is (str if k in texts else int) for k, v in pairs.items()):
            raise LogicalFormatError("bad header value")
        header = Header(**pairs)  # type: ignore[arg-type]
        if header.encoding not in ENCODINGS or header.page_size not in PAGE_SIZES:
            raise LogicalFormatError("bad header value")
        return header

    def _schema(
        self, conn: sqlite3.Connection, records: Iterator[tuple[int, bytes]]
    ) -> tuple[int, bytes]:
        tag, payload = _next(records, None)
        while tag == TAG_SCHEMA:
            values = decode_values(payload)
            if len(values) != 4 or not all(type(v) is str for v in values):
                raise LogicalFormatError("bad schema record")
            obj = SchemaObject(*values)  # type: ignore[arg-type]
            self.objects.append(obj)
            if obj.type == "table":
                conn.execute(obj.sql)
            tag, payload = _next(records, None)
        return tag, payload

    def _section(
        self, conn: sqlite3.Connection, payload: bytes, records: Iterator[tuple[int, bytes]]
    ) -> None:
        section = _parse_section(payload)
        if section.kind.startswith("shadow") or section.kind == "internal":
            if section.name == "sqlite_stat1":
                conn.execute("ANALYZE sqlite_schema")
            conn.execute(f"DELETE FROM main.{quote(section.name)}")
        if self.version == FORMAT_V2:
            self._blocks(conn, section, records)
            return
        sql = insert_sql(section)
        batch: list[list[Value]] = []
        count = 0
        for tag, body in records:
            if tag != TAG_ROW:
                break
            values, raw = decode_row(body)
            count += 1
            if raw:
                _insert_raw(conn, section, values)
                continue
            batch.append(values)
            if len(batch) >= BATCH:
                conn.executemany(sql, batch)
                batch.clear()
        else:
            raise LogicalFormatError(f"stream ends inside section {section.name!r}")
        if batch:
            conn.executemany(sql, batch)
        if tag != TAG_END_TABLE or decode_values(body) != [count]:
            raise LogicalFormatError(f"section {section.name!r} does not end with its row count")
        self.sections += 1
        self.rows += count

    def _blocks(
        self, conn: sqlite3.Connection, section: Section, records: Iterator[tuple[int, bytes]]
    ) -> None:
        """Version 2: row blocks, inserted by :class:`_BulkInsert`, until the section's end."""
        insert = _BulkInsert(conn, section)
        count = 0
        for tag, body in records:
            if tag != TAG_BLOCK:
                break
            rows, raw = decode_block(body)
            count += len(rows)
            if raw:
                for row in rows:
                    _insert_raw(conn, section, row)
            else:
                insert(rows)
        else:
            raise LogicalFormatError(f"stream ends inside section {section.name!r}")
        if tag != TAG_END_TABLE or decode_values(body) != [count]:
            raise LogicalFormatError(f"section {section.name!r} does not end with its row count")
        self.sections += 1
        self.rows += count

    def _end(self, payload: bytes, records: Iterator[tuple[int, bytes]]) -> None:
        if decode_values(payload) != [self.sections, self.rows]:
            raise LogicalFormatError("end record does not match the sections read")
        after = next(records, None)
        if self.version == FORMAT_V2 and after is not None and after[0] == TAG_MAP:
            after = next(records, None)  # the backup's segment map: not part of the database
        if after is not None:
            raise LogicalFormatError("data after the end record")

    def _finish_schema(self, conn: sqlite3.Connection) -> None:
        """Indexes and views, then FTS5 rebuilds (the content may be a view), then triggers."""
        for obj in self.objects:
            if obj.type in ("index", "view"):
                conn.execute(obj.sql)
        for obj in self.objects:
            if obj.type == "table" and _external_fts5(obj.sql):
                conn.execute(f"INSERT INTO main.{quote(obj.name)}({quote(obj.name)}) "
                             "VALUES ('rebuild')")  # fmt: skip
        for obj in self.objects:
            if obj.type == "trigger":
                conn.execute(obj.sql)


def _next(records: Iterator[tuple[int, bytes]], expect: int | None) -> tuple[int, bytes]:
    item = next(records, None)
    if item is None:
        raise LogicalFormatError("stream is truncated")
    if expect is not None and item[0] != expect:
        raise LogicalFormatError(f"expected record {chr(expect)!r}, got {chr(item[0])!r}")
    return item


def _parse_section(payload: bytes) -> Section:
    values = decode_values(payload)
    if len(values) < 2 or not all(type(v) is str for v in values) or values[0] not in KINDS:
        raise LogicalFormatError("bad section record")
    kind, name, *columns = (str(v) for v in values)
    rowid = rowid_name(tuple(columns)) if kind in ROWID_KINDS else None
    if kind in ROWID_KINDS and rowid is None:
        raise LogicalFormatError(f"section {name!r} has no usable rowid name")
    return Section(kind, name, tuple(columns), (), rowid)


class _BulkInsert:
    """Inserts a block's rows :data:`ROWS_PER_INSERT` at a time with one multi-row ``INSERT``.

    Why: one statement per row costs as much in statement start-up, parameter binding calls and
    b-tree seeks from the root as SQLite spends storing the row; a ``VALUES (…), (…), …`` of
    32 rows keeps one statement and one cursor for them all (the rows stay in stream order, so
    the b-tree is still appended to in key order). The rows left over (fewer than one statement
    holds) go through the one-row ``INSERT``. At most :data:`PARAMS_PER_INSERT` parameters per
    statement: the smallest limit any SQLite has had by default. Virtual tables keep one row
    per statement (their content, e.g. FTS5's segments, may depend on statement boundaries).
    """

    def __init__(self, conn: sqlite3.Connection, section: Section) -> None:
        self._conn = conn
        self._one = insert_sql(section)
        self._width = width = len(section.columns) + (1 if section.rowid else 0)
        # a virtual table's module sees one statement per row, as before: FTS5 flushes its
        # pending terms at every statement, so its shadow tables depend on the statement count
        per = ROWS_PER_INSERT if section.kind != "vtab" else 1
        self._k = max(1, min(per, PARAMS_PER_INSERT // max(width, 1)))
        head, _, marks = self._one.rpartition(" VALUES ")
        self._many = f"{head} VALUES {', '.join([marks] * self._k)}"

    def __call__(self, rows: list[list[Value]]) -> None:
        k = self._k
        full = len(rows) - len(rows) % k if k > 1 else 0
        if full:
            # a row of another width would shift values into its neighbours without an error
            if set(map(len, rows)) != {self._width}:
                raise LogicalFormatError("a row does not have its section's column count")
            flat = list(chain.from_iterable(rows[:full] if full < len(rows) else rows))
            step = k * self._width
            groups = [flat[i : i + step] for i in range(0, len(flat), step)]
            self._conn.executemany(self._many, groups)
        if full < len(rows):
            self._conn.executemany(self._one, rows[full:] if full else rows)


def _insert_raw(conn: sqlite3.Connection, section: Section, values: list[Value]) -> None:
    raw = frozenset(i for i, v in enumerate(values) if type(v) is RawText)
    bound = [bytes(v) if i in raw else v for i, v in enumerate(values)]  # type: ignore[arg-type]
    conn.execute(insert_sql(section, raw), bound)


def _is_fts5(sql: str) -> bool:
    return sql.lstrip().upper().startswith("CREATE VIRTUAL TABLE") and module_of(sql)[0] == "fts5"


def _external_fts5(sql: str) -> bool:
    return _is_fts5(sql) and module_of(sql)[1] not in (None, "")


def _check(conn: sqlite3.Connection, objects: list[SchemaObject], full: bool) -> None:
    result = conn.execute("PRAGMA integrity_check" if full else "PRAGMA quick_check").fetchall()
    if result != [("ok",)]:
        raise RestoreCheckFailed(f"integrity_check: {result[:3]!r}")
    for obj in objects:
        if obj.type == "table" and _is_fts5(obj.sql):
            try:
                conn.execute(f"INSERT INTO main.{quote(obj.name)}({quote(obj.name)}, rank) "
                                 "VALUES ('integrity-check', 1)")  # fmt: skip
            except sqlite3.Error as exc:
                raise RestoreCheckFailed(f"FTS5 {obj.name}: {exc}") from exc
