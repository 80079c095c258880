"""Malformed streams, an existing target, and a writer running during the dump."""

from __future__ import annotations

import io
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import msgspec
import pytest

from coffer.errors import IntegrityError, UsageError
from coffer.sqlite.codec import MAGIC, TAG_END, TAG_ROW, TAG_TABLE, encode_values, record
from coffer.sqlite.logical import (
    LogicalFormatError,
    RestoreTargetExists,
    UnsupportedDatabase,
    canonical_digest,
    canonical_dump,
    check_supported,
    dump_logical,
    restore_logical,
)

SCRIPT = """
CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, b BLOB);
CREATE INDEX t_v ON t (v);
INSERT INTO t (v, b) SELECT 'row ' || value, randomblob(20) FROM generate_series(1, 300);
"""


def small_db(tmp_path: Path, make) -> Path:
    script = "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, b BLOB); CREATE INDEX t_v ON t (v);"
    db = make(tmp_path / "src.db", script)
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.executemany("INSERT INTO t (v, b) VALUES (?, ?)",
                         [(f"row {i}", bytes([i % 256]) * 20) for i in range(300)])  # fmt: skip
    return db


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != "src.db")


def test_truncated_stream_at_every_cut_is_refused_and_leaves_nothing(tmp_path, make, dump):
    stream = dump(small_db(tmp_path, make))
    for cut in list(range(0, 200, 7)) + list(range(len(stream) - 100, len(stream), 3)):
        with pytest.raises(LogicalFormatError):
            restore_logical(io.BytesIO(stream[:cut]), tmp_path / "out.db")
        assert leftovers(tmp_path) == []


def test_flipped_or_extra_bytes_are_refused(tmp_path, make, dump):
    stream = dump(small_db(tmp_path, make))
    bad = [
        b"X" + stream[1:],  # magic
        stream[: len(MAGIC) + 2] + b"\x7f" + stream[len(MAGIC) + 3 :],  # header
        stream + record(TAG_ROW, encode_values([1])),  # data after the end
    ]
    # a row's bytes inside its block (format version 2: MessagePack arrays, msgspec)
    row = msgspec.msgpack.encode([5, "row 4", bytes([4]) * 20])
    assert row in stream
    # a row's integer in a longer form than the shortest: not canonical
    bad.append(stream.replace(row, b"\x93\xd0\x05" + row[2:], 1))
    # a block's row count one less: the block no longer decodes
    count = (300).to_bytes(4, "big")
    assert stream.count(count + b"E") == 1
    bad.append(stream.replace(count + b"E", (299).to_bytes(4, "big") + b"E", 1))
    # a block duplicated: UNIQUE rowid violation inside the restore
    head = record(TAG_TABLE, encode_values(("plain", "t", "id", "v", "b")))
    start = stream.index(head) + len(head)
    block = stream[start : stream.index(count) + 4]
    bad.append(stream.replace(block, block + block, 1))
    for data in bad:
        with pytest.raises(IntegrityError):
            restore_logical(io.BytesIO(data), tmp_path / "out.db")
        assert leftovers(tmp_path) == []
    assert stream.endswith(record(TAG_END, encode_values([1, 300])))


def test_unsupported_version_is_refused(tmp_path, make, dump):
    stream = dump(small_db(tmp_path, make))
    newer = stream.replace(encode_values(["version", 2]), encode_values(["version", 3]), 1)
    with pytest.raises(LogicalFormatError, match="unsupported"):
        restore_logical(io.BytesIO(newer), tmp_path / "out.db")


def test_restore_never_overwrites(tmp_path, make, dump):
    db = small_db(tmp_path, make)
    stream = dump(db)
    before = db.read_bytes()
    with pytest.raises(RestoreTargetExists) as info:
        restore_logical(io.BytesIO(stream), db)
    assert isinstance(info.value, UsageError)
    assert db.read_bytes() == before


WRITER = r"""
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
conn.execute("PRAGMA synchronous = OFF")
for i in range(int(sys.argv[2])):
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO log (v, pad) VALUES (?, randomblob(200))", (i,))
    conn.execute("UPDATE totals SET n = n + 1, s = s + ?", (i,))
    conn.execute("COMMIT")
    if i == 50:
        open(sys.argv[3], "w").close()
"""


@pytest.mark.parametrize("journal", ["WAL", "DELETE"])
def test_dump_during_concurrent_writes_restores_a_consistent_state(tmp_path, make, journal):
    db = make(
        tmp_path / "src.db",
        "CREATE TABLE log (id INTEGER PRIMARY KEY, v INT, pad BLOB);"
        "CREATE TABLE totals (n INT, s INT); INSERT INTO totals VALUES (0, 0);",
        pre=f"PRAGMA journal_mode = {journal};",
    )
    flag = tmp_path / "started"
    total = 2000
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(db), str(total), str(flag)])
    try:
        while not flag.exists():
            assert writer.poll() is None, "writer died"
            time.sleep(0.01)
        streams = []
        for _ in range(3):
            out = io.BytesIO()
            dump_logical(db, out)
            streams.append(out.getvalue())
    finally:
        assert writer.wait(timeout=120) == 0
    counts = []
    for i, stream in enumerate(streams):
        target = tmp_path / f"restored{i}.db"
        restore_logical(io.BytesIO(stream), target)
        with closing(sqlite3.connect(target)) as conn:
            n, s = conn.execute("SELECT n, s FROM totals").fetchone()
            assert conn.execute("SELECT count(*), coalesce(sum(v), 0) FROM log").fetchone() == (
                n,
                s,
            )
            counts.append(n)
    assert 50 < counts[0] and counts[-1] <= total
    assert next(iter(canonical_dump(db))).startswith("pragma")


def test_unreadable_sources_raise_unsupported_database(tmp_path, make, dump):
    not_db = tmp_path / "not.db"
    not_db.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    with pytest.raises(UnsupportedDatabase):
        dump(not_db)
    db = small_db(tmp_path, make)
    truncated = tmp_path / "truncated.db"
    truncated.write_bytes(db.read_bytes()[: 3 * 4096])
    with pytest.raises(UnsupportedDatabase):
        dump(truncated)


def test_check_supported_and_canonical_digest(tmp_path, make, dump):
    db = small_db(tmp_path, make)
    check_supported(db)
    restore_logical(io.BytesIO(dump(db)), tmp_path / "copy.db")
    assert canonical_digest(db) == canonical_digest(tmp_path / "copy.db")
    with closing(sqlite3.connect(tmp_path / "copy.db")) as conn, conn:
        conn.execute("UPDATE t SET v = 'changed' WHERE id = 1")
    assert canonical_digest(db) != canonical_digest(tmp_path / "copy.db")
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    with pytest.raises(UnsupportedDatabase):
        check_supported(bad)


def test_quick_check_restore_gives_the_same_database(tmp_path, make, dump):
    db = small_db(tmp_path, make)
    stats = restore_logical(io.BytesIO(dump(db)), tmp_path / "quick.db", full_check=False)
    assert stats.rows == 300
    assert canonical_digest(tmp_path / "quick.db") == canonical_digest(db)
