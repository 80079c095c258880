"""Dump and restore stream with bounded memory: peak Python allocations stay far below the data."""

from __future__ import annotations

import hashlib
import sqlite3
import tracemalloc
from contextlib import closing
from pathlib import Path

from coffer.sqlite.logical import LogicalStream, dump_logical, restore_logical

ROWS, BLOB = 30_000, 1_000  # ~30 MB of rows


def big_db(path: Path) -> Path:
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, b BLOB)")
        seed = hashlib.sha256(b"x").digest()
        conn.executemany(
            "INSERT INTO t VALUES (?, ?, ?)",
            ((i, f"row {i}", seed * (BLOB // 32) + i.to_bytes(8, "big")) for i in range(ROWS)),
        )
    return path


def peak_of(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_dump_and_restore_peak_memory_is_bounded(tmp_path: Path) -> None:
    db = big_db(tmp_path / "src.db")
    stream_path = tmp_path / "stream.bin"

    def dump() -> None:
        with stream_path.open("wb") as out:
            dump_logical(db, out)

    def read_in_pieces() -> None:
        with LogicalStream(db) as stream:
            while stream.read(64 * 1024):
                pass

    def restore() -> None:
        with stream_path.open("rb") as stream:
            restore_logical(stream, tmp_path / "restored.db")

    limit = 8 * 1024 * 1024
    assert peak_of(dump) < limit
    assert stream_path.stat().st_size > 3 * limit
    assert peak_of(read_in_pieces) < limit
    assert peak_of(restore) < limit
