"""End to end: the next backup of a changed database reuses the previous snapshot's blobs.

Through the real backup and restore (local repository, the dump in its child process): the
second snapshot takes most of its database blobs from the first without reading them, stores
only the changed segments, and restores to the same schema and rows as the source.
"""

from __future__ import annotations

import os
import random
import sqlite3
from contextlib import closing
from pathlib import Path

from coffer.backends.local import LocalBackend
from coffer.crypto.recovery import RecoveryKey
from coffer.crypto.slots import SlotKind
from coffer.engine.repository import Repository
from coffer.engine.snapshot import Node
from coffer.ops.backup import BackupOptions, backup
from coffer.ops.restore import restore
from coffer.sqlite.logical import canonical_dump


def _db_node(nodes: list[Node]) -> Node:
    return next(n for n in nodes[0].children if n.name == "chat.db")


def _fill(db: Path, start: int, count: int, rng: random.Random) -> None:
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.executemany(
            "INSERT INTO msg VALUES (?, ?, ?, ?)",
            [(i, i % 7, f"message {i} " + "x" * rng.randint(0, 80), rng.randbytes(16))
             for i in range(start, start + count)],
        )  # fmt: skip


def test_second_backup_reuses_unchanged_segments(tmp_path: Path) -> None:
    rng = random.Random(3)
    src = tmp_path / "src"
    src.mkdir()
    db = src / "chat.db"
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("CREATE TABLE msg (_id INTEGER PRIMARY KEY, chat INT, body TEXT, k BLOB)")
        conn.execute("CREATE UNIQUE INDEX msg_k ON msg (k)")
    _fill(db, 1, 40_000, rng)
    repo = Repository.init(LocalBackend(tmp_path / "repo"))
    key = RecoveryKey.generate()
    repo.add_slot(SlotKind.RECOVERY, key.secret)
    first = backup(repo, [src], BackupOptions(db_mode="logical"))
    node1 = _db_node(first.snapshot.tree)
    assert node1.extra["stream"] == 2 and node1.extra["map_blobs"] >= 1

    _fill(db, 40_001, 300, rng)
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("UPDATE msg SET body = 'edited' WHERE _id = 20000")
    second = backup(repo, [src], BackupOptions(db_mode="logical"))
    node2 = _db_node(second.snapshot.tree)
    rows = 40_300
    assert node2.extra["reused_rows"] > rows * 0.8
    kept = set(node1.content) & set(node2.content)
    assert len(kept) > len(node2.content) * 0.7
    assert second.bytes_new < node2.extra["stream_bytes"] * 0.25

    for snap, name in ((first.snapshot, "one"), (second.snapshot, "two")):
        restore(repo, snap, tmp_path / name)
    assert list(canonical_dump(tmp_path / "two" / "src" / "chat.db")) == list(canonical_dump(db))
    os.utime(db)  # new metadata, same content: a dump that reuses every segment (an untouched
    # database is not dumped at all: tests/engine/test_unchanged_by_metadata.py)
    third = backup(repo, [src], BackupOptions(db_mode="logical"))
    node3 = _db_node(third.snapshot.tree)
    assert node3.extra["reused_rows"] == rows
    assert node3.content[: -node3.extra["map_blobs"]] == node2.content[: -node2.extra["map_blobs"]]
