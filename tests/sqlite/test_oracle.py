"""THE ORACLE: an incremental dump restores to exactly what the source and a full dump hold.

A hypothesis test applies random inserts, updates (small and large values, so overflow chains
appear, move and vanish), deletes of key ranges, ``VACUUM``, and schema changes between dumps
of the same database. After each step the incremental dump — the previous step's map, the
previous stream's bytes for every reused segment — is assembled, restored and compared with
the source (``canonical_dump``) and with the restore of a fresh full dump. Small pages (512 B)
and 4 leaves per segment make even a few hundred rows span many segments.
"""

from __future__ import annotations

import io
import random
import sqlite3
import tempfile
from contextlib import closing
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coffer.sqlite import segments
from coffer.sqlite.dump import DumpResult, dump
from coffer.sqlite.logical import canonical_dump, restore_logical
from coffer.sqlite.segments import DbMap

SCHEMA = """
CREATE TABLE msg (_id INTEGER PRIMARY KEY, chat INTEGER, body TEXT, data BLOB);
CREATE INDEX msg_chat ON msg (chat, _id);
CREATE TABLE loose (a, b);
CREATE TABLE rec (k TEXT, n INTEGER, v BLOB, PRIMARY KEY (k, n)) WITHOUT ROWID;
CREATE TABLE dsc (k INTEGER, v BLOB, PRIMARY KEY (k DESC)) WITHOUT ROWID;
"""
TABLES = ("msg", "loose", "rec", "dsc")
VALUE_COLUMN = {"msg": "data", "loose": "b", "rec": "v", "dsc": "v"}

OPS = st.one_of(
    st.tuples(st.just("insert"), st.sampled_from(TABLES), st.integers(1, 60), st.booleans()),
    st.tuples(st.just("update"), st.sampled_from(TABLES), st.integers(1, 20), st.booleans()),
    st.tuples(st.just("delete"), st.sampled_from(TABLES), st.integers(0, 100), st.integers(1, 30)),
    st.tuples(st.just("tail"), st.sampled_from(TABLES), st.integers(1, 5), st.booleans()),
    st.tuples(st.just("vacuum"), st.just(""), st.just(0), st.just(False)),
    st.tuples(st.just("schema"), st.sampled_from(TABLES), st.integers(0, 3), st.booleans()),
)


def _value(rng: random.Random, large: bool) -> bytes:
    return rng.randbytes(rng.randint(600, 3000) if large else rng.randint(0, 40))


def _text(rng: random.Random, large: bool) -> str:
    return "".join(rng.choice("abcxyz é✓") for _ in range(rng.randint(200, 400) if large else 8))


def apply(conn: sqlite3.Connection, op: tuple[str, str, int, bool], rng: random.Random) -> None:
    kind, table, n, flag = op
    if kind == "vacuum":
        conn.execute("VACUUM")
        return
    cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")] if table else []
    if not cols:
        return
    conn.execute("BEGIN")
    if kind == "insert":
        _insert(conn, table, n, flag, rng)
    elif kind == "update":
        _update(conn, table, n, flag, rng)
    elif kind == "tail":
        _tail(conn, table, n, rng)
    elif kind == "delete":
        key = "k" if table in ("rec", "dsc") else "rowid"
        keys = [r[0] for r in conn.execute(f"SELECT {key} FROM {table} ORDER BY {key}")]
        if keys:
            lo = keys[min(n, len(keys) - 1)]
            doomed = keys[keys.index(lo) : keys.index(lo) + flag + 1]
            conn.executemany(f"DELETE FROM {table} WHERE {key} = ?", [(k,) for k in doomed])
    elif kind == "schema":
        _schema(conn, table, n, cols)
    conn.execute("COMMIT")


def _insert(conn: sqlite3.Connection, table: str, n: int, large: bool, rng: random.Random) -> None:
    for _ in range(n):
        if table == "msg":
            conn.execute("INSERT INTO msg (chat, body, data) VALUES (?, ?, ?)",
                         (rng.randint(1, 5), _text(rng, large), _value(rng, large)))  # fmt: skip
        elif table == "loose":
            conn.execute("INSERT INTO loose (a, b) VALUES (?, ?)",
                         (rng.random(), _value(rng, large)))  # fmt: skip
        elif table == "dsc":
            conn.execute("INSERT OR REPLACE INTO dsc (k, v) VALUES (?, ?)",
                         (rng.randint(0, 10_000), _value(rng, large)))  # fmt: skip
        else:
            conn.execute("INSERT OR REPLACE INTO rec (k, n, v) VALUES (?, ?, ?)",
                         (_text(rng, large and rng.random() < 0.3), rng.randint(0, 3),
                          _value(rng, large)))  # fmt: skip


def _update(conn: sqlite3.Connection, table: str, n: int, large: bool, rng: random.Random) -> None:
    col = VALUE_COLUMN[table]
    key = {"rec": "k, n", "dsc": "k"}.get(table, "rowid")
    rows = conn.execute(f"SELECT {key} FROM {table}").fetchall()
    for row in rng.sample(rows, min(n, len(rows))):
        where = {"rec": "k = ? AND n = ?", "dsc": "k = ?"}.get(table, "rowid = ?")
        conn.execute(f"UPDATE {table} SET {col} = ? WHERE {where}", (_value(rng, large), *row))
    if table == "msg" and rows and rng.random() < 0.3:  # an update that moves a row
        (old,) = rng.choice(rows)
        conn.execute("UPDATE OR REPLACE msg SET _id = _id + 100000 WHERE _id = ?", (old,))


def _tail(conn: sqlite3.Connection, table: str, n: int, rng: random.Random) -> None:
    """Large values whose last bytes change: the leaf cell (prefix + first overflow page) can
    stay byte-identical while only an overflow page changes."""
    col = VALUE_COLUMN[table]
    key = {"rec": "k, n", "dsc": "k"}.get(table, "rowid")
    rows = conn.execute(f"SELECT {key}, {col} FROM {table} WHERE length({col}) > 600").fetchall()
    for row in rng.sample(rows, min(n, len(rows))):
        *key_values, value = row
        value = bytes(value[:-8]) + rng.randbytes(8)
        where = {"rec": "k = ? AND n = ?", "dsc": "k = ?"}.get(table, "rowid = ?")
        conn.execute(f"UPDATE {table} SET {col} = ? WHERE {where}", (value, *key_values))


def _schema(conn: sqlite3.Connection, table: str, n: int, cols: list[str]) -> None:
    if n == 0:
        conn.execute(f"ALTER TABLE {table} ADD COLUMN extra{len(cols)} TEXT DEFAULT 'd'")
    elif n == 1:
        conn.execute(f"CREATE INDEX IF NOT EXISTS {table}_ix{len(cols)} ON {table} ({cols[-1]})")
    elif n == 2:
        conn.execute(f"ALTER TABLE {table} RENAME TO {table}_old")
        conn.execute(f"ALTER TABLE {table}_old RENAME TO {table}")
    else:
        conn.execute("CREATE TABLE IF NOT EXISTS side (x INTEGER PRIMARY KEY, y)")
        conn.execute("INSERT INTO side (y) VALUES (randomblob(700))")


def incremental(db: Path, old: DumpResult | None, old_stream: bytes) -> tuple[DumpResult, bytes]:
    """Dump with the previous map; assemble the stream as a backup does (offsets for blobs)."""
    new_bytes = bytearray()
    result = dump(db, new_bytes.extend, old.map if old else None)
    out = bytearray()
    pos = 0
    for piece in result.pieces:
        seg = None
        if result.map is not None and piece.section >= 0:
            segs = result.map.sections[piece.section].segs
            seg = segs[piece.seg] if piece.seg < len(segs) else None
        start = len(out)
        if piece.reused:
            assert seg is not None
            out += old_stream[seg.start : seg.start + seg.blobs]
        else:
            out += new_bytes[pos : pos + piece.length]
            pos += piece.length
        if seg is not None:
            seg.start, seg.blobs = start, len(out) - start  # "blobs" are bytes here
    assert pos == len(new_bytes)
    if result.map is not None:  # what the next backup reads back
        result.map = DbMap.decode(result.map.encode())
    return result, bytes(out)


def restored_lines(stream: bytes, target: Path) -> list[str]:
    target.unlink(missing_ok=True)
    restore_logical(io.BytesIO(stream), target)
    return list(canonical_dump(target))


@pytest.fixture
def small_segments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(segments, "SEG_LEAVES", 4)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=st.lists(st.lists(OPS, min_size=1, max_size=4), min_size=2, max_size=6),
       seed=st.integers(0, 2**32))  # fmt: skip
def test_incremental_dump_restores_like_source_and_full_dump(
    tmp_path: Path, small_segments: None, steps: list[list[tuple[str, str, int, bool]]], seed: int
) -> None:
    rng = random.Random(seed)
    work = Path(tempfile.mkdtemp(dir=tmp_path))
    db = work / "src.db"
    with closing(sqlite3.connect(db, isolation_level=None)) as conn:
        conn.execute("PRAGMA page_size = 512")
        conn.executescript(SCHEMA)
        for table in TABLES:
            apply(conn, ("insert", table, 150, False), rng)
    result, stream = incremental(db, None, b"")
    reused = 0
    for ops in steps:
        with closing(sqlite3.connect(db, isolation_level=None)) as conn:
            for op in ops:
                apply(conn, op, rng)
        result, stream = incremental(db, result, stream)
        reused += result.reused_rows
        source = list(canonical_dump(db))
        assert restored_lines(stream, work / "inc.db") == source
        full = bytearray()
        dump(db, full.extend)
        assert restored_lines(bytes(full), work / "full.db") == source
    assert reused >= 0


def test_unchanged_database_reuses_every_segment(tmp_path: Path, small_segments: None) -> None:
    """The oracle above must not pass by never reusing anything."""
    rng = random.Random(7)
    db = tmp_path / "src.db"
    with closing(sqlite3.connect(db, isolation_level=None)) as conn:
        conn.execute("PRAGMA page_size = 512")
        conn.executescript(SCHEMA)
        for table in TABLES:
            apply(conn, ("insert", table, 200, True), rng)
    first, stream = incremental(db, None, b"")
    assert first.map is not None
    segs = {s.name: len(s.segs) for s in first.map.sections}
    # ranged: rowid tables and the ASC/BINARY WITHOUT ROWID key; one segment for the DESC key
    assert segs["msg"] > 1 and segs["loose"] > 1 and segs["rec"] > 1 and segs["dsc"] == 1
    second, again = incremental(db, first, stream)
    assert second.reused_rows == second.rows == first.rows
    assert sum(p.length for p in second.pieces if p.section >= 0) == 0
    assert again == stream
    with closing(sqlite3.connect(db, isolation_level=None)) as conn:
        apply(conn, ("insert", "msg", 5, False), rng)
    third, _ = incremental(db, second, again)
    assert 0 < third.reused_rows < third.rows
