"""The sample chat-store generator: determinism, shape, media, next day, errors."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
import zstandard

from coffer.errors import UsageError
from coffer.sample import (
    BadSpec,
    ChatStoreSpec,
    NotAChatStore,
    SampleError,
    StoreExists,
    apply_next_day,
    generate_chat_store,
)

SMALL = ChatStoreSpec(
    seed=7,
    messages=4_000,
    contacts=60,
    chats=30,
    media_bytes=3_000_000,
    photo_range=(100_000, 400_000),
    next_day_status_updates=20,
    next_day_media=5,
)


def tree_digest(root: Path) -> dict[str, tuple[str, int]]:
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            out[str(path.relative_to(root))] = (
                hashlib.sha256(data).hexdigest(),
                path.stat().st_mtime_ns,
            )
    return out


def query(root: Path, sql: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(root / "msgstore.db")) as conn:
        return conn.execute(sql).fetchall()


def test_same_seed_same_bytes_and_different_seed_differs(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate_chat_store(a, SMALL)
    generate_chat_store(b, SMALL)
    generate_chat_store(c, ChatStoreSpec(**{**SMALL.__dict__, "seed": 8}))
    assert tree_digest(a) == tree_digest(b)
    assert tree_digest(a)["msgstore.db"] != tree_digest(c)["msgstore.db"]
    apply_next_day(a, SMALL)
    apply_next_day(b, SMALL)
    assert tree_digest(a) == tree_digest(b)


def test_database_shape(tmp_path: Path) -> None:
    stats = generate_chat_store(tmp_path, SMALL)
    assert stats.messages == 4_000
    assert query(tmp_path, "PRAGMA integrity_check") == [("ok",)]
    assert query(tmp_path, "SELECT count(*) FROM messages") == [(4_000,)]
    assert query(tmp_path, "SELECT count(*) FROM contacts") == [(60,)]
    assert query(tmp_path, "SELECT count(*) FROM chats") == [(30,)]
    sql = {name: text for name, text in query(tmp_path, "SELECT name, sql FROM sqlite_schema")}
    assert "WITHOUT ROWID" in sql["receipts"]
    assert "UNIQUE" in sql["messages_key"] and "(chat_id, timestamp)" in sql["messages_chat_time"]
    assert query(tmp_path, "SELECT min(length(key_id)), max(length(key_id)) FROM messages") == [
        (16, 16)
    ]
    (receipts,) = query(tmp_path, "SELECT count(*) FROM receipts")[0]
    assert receipts == stats.receipts > 0
    assert query(tmp_path, "SELECT count(*) FROM message_reactions")[0][0] == stats.reactions > 0
    # time order follows rowid order, and texts carry non-ASCII (emoji, other scripts)
    times = [t for (t,) in query(tmp_path, "SELECT timestamp FROM messages ORDER BY _id")]
    assert times == sorted(times)
    texts = [
        t for (t,) in query(tmp_path, "SELECT text_data FROM messages WHERE text_data IS NOT NULL")
    ]
    assert sum(1 for t in texts if not t.isascii()) > len(texts) // 10
    assert any(len(t) > 200 for t in texts) and any(len(t) < 20 for t in texts)


def test_media_files_match_rows_and_are_incompressible(tmp_path: Path) -> None:
    stats = generate_chat_store(tmp_path, SMALL)
    rows = query(
        tmp_path,
        "SELECT m.kind, m.file_path, m.file_size, m.file_hash, g.timestamp "
        "FROM media m JOIN messages g ON g._id = m.message_id",
    )
    assert len(rows) == stats.media_files > 3
    assert sum(r[2] for r in rows) == stats.media_bytes <= SMALL.media_bytes
    kinds = {r[0] for r in rows}
    assert kinds == {"image", "voice"}
    for kind, rel, size, digest, ts in rows:
        data = (tmp_path / rel).read_bytes()
        assert len(data) == size and hashlib.sha256(data).digest() == digest
        assert os.stat(tmp_path / rel).st_mtime_ns == ts * 1_000_000
        if kind == "image":
            assert rel.endswith(".jpg") and data[:3] == b"\xff\xd8\xff" and data[6:10] == b"JFIF"
            assert data[-2:] == b"\xff\xd9" and 100_000 <= size <= 400_000
        else:
            assert rel.endswith(".opus") and data[:4] == b"OggS" and data[28:36] == b"OpusHead"
            assert 20_000 <= size <= 200_000
    sample = (tmp_path / rows[0][1]).read_bytes()
    assert len(zstandard.ZstdCompressor(level=3).compress(sample)) > 0.99 * len(sample)


def test_next_day_adds_one_percent_reads_and_media(tmp_path: Path) -> None:
    generate_chat_store(tmp_path, SMALL)
    (before_max,) = query(tmp_path, "SELECT max(_id) FROM messages")[0]
    (unread,) = query(tmp_path, "SELECT count(*) FROM messages WHERE from_me = 1 AND status < 13")[
        0
    ]
    stats = apply_next_day(tmp_path, SMALL, day=1)
    assert stats.messages == 40 and stats.media_files == 5 and stats.status_updates == 20
    assert unread > 0
    start, end = SMALL.history_end_ms, SMALL.history_end_ms + 86_400_000
    new = query(
        tmp_path, f"SELECT _id, timestamp FROM messages WHERE _id > {before_max} ORDER BY _id"
    )
    assert [r[0] for r in new] == list(range(before_max + 1, before_max + 41))
    assert all(start <= t < end for _, t in new) and [t for _, t in new] == sorted(
        t for _, t in new
    )
    assert query(tmp_path, "PRAGMA integrity_check") == [("ok",)]
    assert (
        len(list((tmp_path / "media").rglob("*.*")))
        == query(tmp_path, "SELECT count(*) FROM media")[0][0]
    )
    stats2 = apply_next_day(tmp_path, SMALL, day=2)
    assert stats2.messages == 40
    with pytest.raises(SampleError):
        apply_next_day(tmp_path, SMALL, day=2)


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(BadSpec):
        ChatStoreSpec(messages=0)
    with pytest.raises(UsageError):  # more 1:1 chats than contacts: rejected when generating
        generate_chat_store(tmp_path / "x", ChatStoreSpec(contacts=10, chats=100))
    with pytest.raises(NotAChatStore):
        apply_next_day(tmp_path / "nothing", SMALL)
    other = tmp_path / "other"
    other.mkdir()
    with closing(sqlite3.connect(other / "msgstore.db")) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(NotAChatStore):
        apply_next_day(other, SMALL)
    with pytest.raises(StoreExists):
        generate_chat_store(other, SMALL)
