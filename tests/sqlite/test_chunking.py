"""The stream under content-defined chunking: appends and a next day store little that is new."""

from __future__ import annotations

import hashlib
import io
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from pyfastcdc import FastCDC

from coffer.sample import ChatStoreSpec, apply_next_day, generate_chat_store
from coffer.sqlite.logical import (
    LogicalFormatError,
    LogicalStream,
    RestoreTargetExists,
    UnsupportedDatabase,
    canonical_dump,
    restore_logical,
)
from coffer.sqlite.proc import ProcessLogicalStream, ProcessRestore

AVG = 64 * 1024


def chunk_ids(data: bytes) -> dict[bytes, int]:
    return {hashlib.sha256(c.data).digest(): c.length for c in FastCDC(AVG).cut_buf(data)}


def new_bytes(before: dict[bytes, int], after: dict[bytes, int]) -> int:
    return sum(length for digest, length in after.items() if digest not in before)


def test_appended_rows_change_only_the_last_chunks(tmp_path: Path, make, dump) -> None:
    db = make(tmp_path / "src.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, b BLOB);")

    def add(start: int, count: int) -> None:
        with closing(sqlite3.connect(db)) as conn, conn:
            conn.executemany("INSERT INTO t VALUES (?, ?, ?)",
                             [(i, f"message number {i} ✓", hashlib.md5(str(i).encode()).digest())
                              for i in range(start, start + count)])  # fmt: skip

    add(0, 40_000)
    first = dump(db)
    add(40_000, 400)
    second = dump(db)
    old_chunks = [c.length for c in FastCDC(AVG).cut_buf(first)]
    kept = sum(length for d, length in chunk_ids(second).items() if d in chunk_ids(first))
    # everything but the last two chunks of the old stream is reused byte for byte
    assert kept >= len(first) - sum(old_chunks[-2:])


def test_next_day_of_a_chat_store_adds_under_5_percent(tmp_path: Path, dump) -> None:
    # the demo size (100k messages, ~26 MB); at 50k messages the fixed cost of ~7 changed regions
    # times ~80 KiB per chunk already reaches 3-5.5% depending on the seed
    spec = ChatStoreSpec(seed=1, media_bytes=0)
    generate_chat_store(tmp_path, spec)
    db = tmp_path / "msgstore.db"
    day0 = dump(db)
    apply_next_day(tmp_path, spec)
    day1 = dump(db)
    added = new_bytes(chunk_ids(day0), chunk_ids(day1))
    db_size = db.stat().st_size
    assert added < 0.05 * db_size, (added, db_size)
    # and the day-1 stream restores to the same rows and schema
    restore_logical(io.BytesIO(day1), tmp_path / "restored.db")
    assert list(canonical_dump(tmp_path / "restored.db")) == list(canonical_dump(db))


def test_logical_stream_feeds_cut_stream_and_releases_the_snapshot(tmp_path: Path, make, dump):
    db = make(tmp_path / "src.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB);")
    with closing(sqlite3.connect(db)) as conn, conn:
        rows = [(i, hashlib.sha256(str(i).encode()).digest() * 8) for i in range(20_000)]
        conn.executemany("INSERT INTO t VALUES (?, ?)", rows)
    expected = dump(db)
    with LogicalStream(db) as stream:
        pieces = [bytes(c.data) for c in FastCDC(AVG).cut_stream(stream)]
        assert stream.stats is not None and stream.stats.bytes == len(expected)
    assert b"".join(pieces) == expected
    # closing a half-read stream ends its read transaction: a writer gets the lock at once
    with LogicalStream(db) as stream:
        stream.read(1000)
    with closing(sqlite3.connect(db, timeout=0)) as conn, conn:
        conn.execute("INSERT INTO t VALUES (-1, x'00')")


def test_process_stream_matches_the_in_process_dump(tmp_path: Path, make, dump) -> None:
    db = make(tmp_path / "src.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);")
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.executemany("INSERT INTO t VALUES (?, ?)", [(i, f"v{i} ✓") for i in range(30_000)])
    with ProcessLogicalStream(db) as stream:
        data = b"".join(bytes(c.data) for c in FastCDC(AVG).cut_stream(stream))
        assert stream.stats is not None and stream.stats.rows == 30_000
    assert data == dump(db)
    with ProcessLogicalStream(db) as stream:  # closing early kills the child
        assert stream.read(100)
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    with ProcessLogicalStream(bad) as stream, pytest.raises(UnsupportedDatabase):
        stream.read()


def test_process_restore(tmp_path: Path, make, dump) -> None:
    db = make(tmp_path / "src.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);")
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.executemany("INSERT INTO t VALUES (?, ?)", [(i, f"v{i}") for i in range(20_000)])
    stream = dump(db)
    with ProcessRestore(tmp_path / "out.db") as restore:
        for i in range(0, len(stream), 70_000):
            restore.write(stream[i : i + 70_000])
        assert restore.finish().rows == 20_000
    assert list(canonical_dump(tmp_path / "out.db")) == list(canonical_dump(db))
    with ProcessRestore(tmp_path / "out.db") as restore, pytest.raises(RestoreTargetExists):
        restore.write(stream)
        restore.finish()
    with ProcessRestore(tmp_path / "quick.db", full_check=False) as restore:
        restore.write(stream)
        assert restore.finish().rows == 20_000
    with ProcessRestore(tmp_path / "other.db") as restore, pytest.raises(LogicalFormatError):
        restore.write(stream[: len(stream) // 2])
        restore.finish()
    assert not (tmp_path / "other.db").exists()


def test_process_restore_that_fails_early_exits_with_its_input_open(tmp_path: Path) -> None:
    """The child's read-ahead thread must not keep a failed child alive (or abort its exit)."""
    (tmp_path / "there.db").write_bytes(b"")
    with ProcessRestore(tmp_path / "there.db") as restore:
        restore.write(b"coffer-sqlite-logical\n")
        restore._proc.wait(timeout=120)  # a hang guard, not a timing: the child exits by itself
        with pytest.raises(RestoreTargetExists):
            restore.finish()
