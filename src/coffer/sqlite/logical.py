"""Logical mode for SQLite sources: a canonical, chunking-friendly stream of schema and rows.

Rules:

- :func:`dump_logical` reads inside ONE read transaction on a read-only connection, so the stream
  is one consistent state even while another process writes (WAL: the writer goes on; rollback
  journal: the writer waits for our shared lock, up to its busy timeout).
- The stream (format version 1, byte rules in :mod:`.codec`) is::

      MAGIC  "coffer-sqlite-logical\\n"
      H      header: "version", 1, then (pragma name, value) pairs sorted by name
      S*     schema objects (type, name, tbl_name, sql), in restore order
      per section:  T (kind, name, column...)  R* (values, rowid first when the kind has one)
                    E (row count)
      Z      (sections, rows)

  Rows come in rowid / primary-key order; a row's record depends on that row alone and counts
  sit only at section ends, so appended rows change only the last chunks of a CDC stream.
- Indexes are not dumped: restore rebuilds them. Which tables get which kind of section,
  and how virtual tables (FTS5) are carried, is decided in :mod:`.schema`.
- :func:`restore_logical` writes a new file next to ``db_path`` and renames it into place only
  after ``PRAGMA integrity_check`` (and FTS5 ``integrity-check``) pass; it never overwrites.
- Memory is bounded by one batch of rows (1,000) and ~1 MiB of stream buffer.

Exception tree (under :class:`coffer.errors.CofferError`)::

    UnsupportedDatabase (1)          the dump cannot read or carry this source (use page mode);
                                     raised mid-stream too: discard what was yielded
    IntegrityError (12)
    └── LogicalFormatError           malformed / truncated stream, unsupported version
        └── RestoreCheckFailed        the rebuilt database fails integrity_check
    UsageError (2)
    └── RestoreTargetExists           restore would overwrite an existing file
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import queue
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from coffer.sqlite.codec import MAGIC, LogicalFormatError
from coffer.sqlite.dump import DumpResult, dump
from coffer.sqlite.rebuild import RestoreStats, RestoreTargetExists, restore_logical
from coffer.sqlite.schema import HEADER_PRAGMAS, Section, UnsupportedDatabase, plan, quote

PIECE = 1 << 20

__all__ = [
    "MAGIC",
    "DumpStats",
    "LogicalFormatError",
    "LogicalStream",
    "RestoreStats",
    "RestoreTargetExists",
    "UnsupportedDatabase",
    "canonical_digest",
    "canonical_dump",
    "check_supported",
    "dump_logical",
    "iter_logical",
    "restore_logical",
]


@dataclass(frozen=True)
class DumpStats:
    schema_objects: int
    sections: int
    rows: int
    bytes: int
    seconds: float


def open_readonly(db_path: Path) -> sqlite3.Connection:
    """A read-only connection (URI ``mode=ro``) that waits up to 30 s for a writer's lock."""
    uri = Path(db_path).resolve().as_uri() + "?mode=ro"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30.0)
    conn.text_factory = bytearray
    return conn


def dump_logical(db_path: Path, out: BinaryIO) -> DumpStats:
    """Write the logical stream of ``db_path`` to ``out`` (see the module rules)."""
    stats: list[DumpStats] = []
    for piece in iter_logical(db_path, stats):
        out.write(piece)
    return stats[0]


def iter_logical(db_path: Path, stats: list[DumpStats] | None = None) -> Iterator[bytes]:
    """Yield the logical stream of ``db_path`` in pieces of about 1 MiB.

    The read transaction stays open while the iterator is alive; closing it early (``close()``)
    ends the transaction. When it is exhausted, a :class:`DumpStats` is appended to ``stats``.
    SQLite errors surface as :class:`UnsupportedDatabase`.
    """
    try:
        yield from _iter_logical(db_path, stats)
    except sqlite3.Error as exc:
        raise UnsupportedDatabase(f"cannot dump {db_path}: {exc}") from exc


def _iter_logical(db_path: Path, stats: list[DumpStats] | None) -> Iterator[bytes]:
    """Run :func:`.dump.dump` in a thread, handing its output over in ~1 MiB pieces."""
    started = time.perf_counter()
    pipe = _Pipe()
    worker = threading.Thread(target=pipe.run, args=(db_path,), name="coffer-logical-dump")
    worker.start()
    try:
        while (piece := pipe.get()) is not None:
            yield piece
    finally:
        pipe.cancel()
        worker.join()
    result = pipe.result
    assert result is not None
    if stats is not None:
        stats.append(DumpStats(
            schema_objects=result.schema_objects, sections=result.sections, rows=result.rows,
            bytes=result.bytes, seconds=time.perf_counter() - started,
        ))  # fmt: skip


class _Cancelled(Exception):
    pass


class _Pipe:
    """A dump in a worker thread, its output batched into ~1 MiB pieces, at most 4 queued."""

    def __init__(self) -> None:
        self.queue: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=4)
        self.result: DumpResult | None = None
        self._buf = bytearray()
        self._cancelled = False

    def run(self, db_path: Path) -> None:
        try:
            self.result = dump(db_path, self._write)
            if self._buf:
                self._put(bytes(self._buf))
            self._put(None)
        except _Cancelled:
            return
        except BaseException as exc:  # handed to the consuming thread
            with contextlib.suppress(_Cancelled):
                self._put(exc)

    def _write(self, data: bytes) -> None:
        self._buf += data
        if len(self._buf) >= PIECE:
            self._put(bytes(self._buf))
            self._buf = bytearray()

    def _put(self, item: bytes | BaseException | None) -> None:
        while True:
            if self._cancelled:
                raise _Cancelled
            try:
                self.queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def get(self) -> bytes | None:
        item = self.queue.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def cancel(self) -> None:
        self._cancelled = True
        with contextlib.suppress(queue.Empty):
            while True:
                self.queue.get_nowait()


class LogicalStream(io.RawIOBase):
    """The logical stream of a database as a readable file (``readinto``), e.g. for
    ``pyfastcdc.FastCDC.cut_stream``; use it as a context manager so the read transaction ends.
    ``stats`` is set once the stream has been read to its end."""

    def __init__(self, db_path: Path) -> None:
        super().__init__()
        self._stats: list[DumpStats] = []
        self._pieces = iter_logical(db_path, self._stats)
        self._current = memoryview(b"")

    @property
    def stats(self) -> DumpStats | None:
        return self._stats[0] if self._stats else None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._current:
            piece = next(self._pieces, None)
            if piece is None:
                return 0
            self._current = memoryview(piece)
        n = min(len(buffer), len(self._current))
        buffer[:n] = self._current[:n]
        self._current = self._current[n:]
        return n

    def close(self) -> None:
        self._pieces.close()  # type: ignore[attr-defined]
        super().close()


def canonical_dump(db_path: Path) -> Iterator[str]:
    """Schema and rows as comparable text lines, independent of the stream code (for tests).

    Lines: header pragmas; every ``sqlite_schema`` row except shadow tables' and autoindexes'
    (sorted by type, name); every table's and readable virtual table's rows in key order, each
    value typed (``typeof``) with REALs in ``float.hex`` so ``-0.0`` differs from ``0.0``.
    """
    with closing(open_readonly(db_path)) as conn:
        conn.text_factory = str
        conn.execute("BEGIN")
        the_plan = plan(conn)
        for name in HEADER_PRAGMAS:
            yield f"pragma {name} = {conn.execute(f'PRAGMA main.{name}').fetchone()[0]!r}"
        for obj in sorted(the_plan.objects, key=lambda o: (o.type, o.name)):
            yield f"schema {obj.type} {obj.name} {obj.tbl_name} {obj.sql}"
        for section in sorted(the_plan.sections, key=lambda s: s.name):
            yield from _canonical_rows(conn, section)
        for name in the_plan.rebuild:
            yield from _canonical_rows(conn, _external_fts(conn, name))
        conn.execute("ROLLBACK")


def canonical_digest(db_path: Path) -> str:
    """SHA-256 (hex) over :func:`canonical_dump`'s lines: equal for equal schema and rows."""
    digest = hashlib.sha256()
    for line in canonical_dump(db_path):
        digest.update(line.encode("utf-8", "surrogateescape") + b"\n")
    return digest.hexdigest()


def check_supported(db_path: Path) -> None:
    """Raise :class:`UnsupportedDatabase` if the logical mode cannot dump ``db_path``.

    Reads only the schema (what the dump decides first), so it is cheap; a dump can still fail
    later on a damaged table page.
    """
    try:
        with closing(open_readonly(db_path)) as conn:
            conn.execute("BEGIN")
            plan(conn)
            conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        raise UnsupportedDatabase(f"cannot dump {db_path}: {exc}") from exc


def _canonical_rows(conn: sqlite3.Connection, section: Section) -> Iterator[str]:
    yield f"table {section.name} {section.columns}"
    cols = ([section.rowid] if section.rowid else []) + [quote(c) for c in section.columns]
    typed = ", ".join(f"typeof({c}), {c}" for c in cols)
    order = ", ".join(c if c == section.rowid else quote(c) for c in section.order_by)
    conn.text_factory = bytes
    try:
        query = f"SELECT {typed} FROM main.{quote(section.name)} ORDER BY {order}"
        for row in conn.execute(query):
            pairs = zip(row[0::2], row[1::2], strict=True)
            yield "row " + " ".join(_show(kind, value) for kind, value in pairs)
    finally:
        conn.text_factory = str


def _show(kind: bytes, value: object) -> str:
    if isinstance(value, float):
        return f"real:{value.hex()}"
    return f"{kind.decode()}:{value!r}"


def _external_fts(conn: sqlite3.Connection, name: str) -> Section:
    info = conn.execute(f"PRAGMA main.table_xinfo({quote(name)})").fetchall()
    return Section("vtab", name, tuple(r[1] for r in info if r[6] == 0), ("rowid",), "rowid")
