"""SQLite sources are captured consistently through the online backup API, even mid-write."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from coffer.cli.verify import integrity_ok, table_digest
from coffer.ops.backup import BackupOptions, backup
from coffer.ops.restore import restore

from .conftest import RepoHandle

WRITER = r"""
import sqlite3, sys, time, os
db, mode = sys.argv[1], sys.argv[2]
con = sqlite3.connect(db, timeout=60, isolation_level=None)
con.execute(f"PRAGMA journal_mode={mode}")
print("ready", flush=True)
i = 0
while True:
    # each transaction moves 1 unit between two accounts and appends a ledger row:
    # the total and the ledger count are invariants of every committed state
    con.execute("BEGIN IMMEDIATE")
    a, b = i % 50, (i * 7 + 3) % 50
    con.execute("UPDATE accounts SET balance = balance - 1 WHERE id = ?", (a,))
    con.execute("UPDATE accounts SET balance = balance + 1 WHERE id = ?", (b,))
    note = os.urandom(200).hex()
    con.execute("INSERT INTO ledger(src, dst, note) VALUES (?, ?, ?)", (a, b, note))
    con.execute("COMMIT")
    i += 1
    time.sleep(0.001)  # a chat app commits often, not back to back
"""


def _make_db(path: Path) -> None:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE accounts(id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)")
    con.execute("CREATE TABLE ledger(id INTEGER PRIMARY KEY, src INT, dst INT, note TEXT)")
    con.execute("CREATE INDEX ledger_src ON ledger(src)")
    con.executemany("INSERT INTO accounts VALUES (?, 1000)", [(i,) for i in range(50)])
    con.executemany(
        "INSERT INTO ledger(src, dst, note) VALUES (0, 0, ?)", [("x" * 300,) for _ in range(20000)]
    )
    con.commit()
    con.close()


@pytest.mark.parametrize("db_mode", ["pages", "logical"])
@pytest.mark.parametrize("journal_mode", ["wal", "delete"])
def test_backup_during_concurrent_writes_is_consistent(
    repo_handle: RepoHandle, tmp_path: Path, journal_mode: str, db_mode: str
) -> None:
    src = tmp_path / "app"
    src.mkdir()
    db = src / "msgstore.db"
    _make_db(db)
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db), journal_mode], stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
        time.sleep(0.3)
        opts = BackupOptions(db_mode=db_mode)
        snaps = [backup(repo_handle.open(), [src], opts).snapshot for _ in range(3)]
    finally:
        writer.kill()
        writer.wait()
    ledger_counts = []
    for i, snap in enumerate(snaps):
        target = tmp_path / f"out{i}"
        res = restore(repo_handle.open(), snap, target)
        assert res.errors == []
        restored = target / "app" / "msgstore.db"
        assert integrity_ok(restored)
        con = sqlite3.connect(restored)
        total = con.execute("SELECT sum(balance) FROM accounts").fetchone()[0]
        ledger_counts.append(con.execute("SELECT count(*) FROM ledger").fetchone()[0])
        con.close()
        assert total == 50 * 1000  # a torn copy would break the invariant
    assert ledger_counts[-1] > 20000  # the writer really was writing during the backups
    # companions are not stored separately
    names = [n.name for n in snaps[-1].tree[0].children]
    assert names == ["msgstore.db"]
    assert snaps[-1].tree[0].children[0].format == f"sqlite-{db_mode}"


def test_database_node_is_page_aligned_and_restores_same_rows(
    repo_handle: RepoHandle, tmp_path: Path
) -> None:
    src = tmp_path / "app"
    src.mkdir()
    _make_db(src / "msgstore.db")
    snap = backup(repo_handle.open(), [src], BackupOptions(db_mode="pages")).snapshot
    node = snap.tree[0].children[0]
    assert node.format == "sqlite-pages" and node.extra["page_size"] == 4096
    restore(repo_handle.open(), snap, tmp_path / "out")
    assert table_digest(tmp_path / "out/app/msgstore.db") == table_digest(src / "msgstore.db")


def test_small_change_to_database_stores_few_pages(repo_handle: RepoHandle, tmp_path: Path) -> None:
    src = tmp_path / "app"
    src.mkdir()
    db = src / "msgstore.db"
    _make_db(db)
    pages = BackupOptions(db_mode="pages")
    first = backup(repo_handle.open(), [src], pages)
    con = sqlite3.connect(db)
    con.execute("UPDATE accounts SET balance = balance + 1 WHERE id = 3")
    con.commit()
    con.close()
    second = backup(repo_handle.open(), [src], pages)
    assert second.bytes_new <= 4 * 4096 < first.bytes_new


def test_logical_mode_next_day_adds_under_five_percent_of_the_database(
    repo_handle: RepoHandle, tmp_path: Path
) -> None:
    from coffer.cli.verify import compare_trees
    from coffer.sample import ChatStoreSpec, apply_next_day, generate_chat_store

    store = tmp_path / "store"
    spec = ChatStoreSpec(seed=3, messages=20_000, media_bytes=2_000_000)
    generate_chat_store(store, spec)
    opts = BackupOptions(db_mode="logical")
    sources = [store / "msgstore.db", store / "media"]
    backup(repo_handle.open(), sources, opts)
    apply_next_day(store, spec)
    db_size = (store / "msgstore.db").stat().st_size
    second = backup(repo_handle.open(), sources, opts)
    db = second.sources[0]
    assert 0 < db.bytes_stored <= db.bytes_new  # compressed and sealed
    assert db.bytes_stored < 0.05 * db_size, (db.bytes_stored, db.bytes_new, db_size)
    restore(repo_handle.open(), second.snapshot, tmp_path / "out")
    assert compare_trees(store / "media", tmp_path / "out" / "media") == []
    assert table_digest(tmp_path / "out/msgstore.db") == table_digest(store / "msgstore.db")


def test_repository_default_is_logical_mode(repo_handle: RepoHandle, tmp_path: Path) -> None:
    src = tmp_path / "app"
    src.mkdir()
    _make_db(src / "msgstore.db")
    snap = backup(repo_handle.open(), [src]).snapshot
    assert snap.tree[0].children[0].format == "sqlite-logical"


def test_database_the_logical_mode_cannot_carry_falls_back_to_pages(
    repo_handle: RepoHandle, tmp_path: Path
) -> None:
    from coffer.engine.progress import CollectingProgress

    src = tmp_path / "app"
    src.mkdir()
    con = sqlite3.connect(src / "odd.db")
    con.execute("CREATE TABLE t(x TEXT)")
    con.executemany("INSERT INTO t VALUES (?)", [(str(i),) for i in range(500)])
    # a virtual table whose module this SQLite lacks (an app's custom tokenizer or extension):
    # the logical mode cannot read it, the page mode copies it as it is
    con.execute("PRAGMA writable_schema = ON")
    con.execute(
        "INSERT INTO sqlite_schema(type, name, tbl_name, rootpage, sql) VALUES "
        "('table', 'ext', 'ext', 0, 'CREATE VIRTUAL TABLE ext USING appmodule(a, b)')"
    )
    con.commit()
    con.close()
    progress = CollectingProgress()
    snap = backup(repo_handle.open(), [src], BackupOptions(db_mode="logical"), progress).snapshot
    assert snap.tree[0].children[0].format == "sqlite-pages"
    assert any("using page mode" in w for w in progress.warnings)
    restore(repo_handle.open(), snap, tmp_path / "out")
    restored = sqlite3.connect(tmp_path / "out/app/odd.db")
    assert restored.execute("SELECT count(*) FROM t").fetchone()[0] == 500
    assert restored.execute("SELECT sql FROM sqlite_schema WHERE name = 'ext'").fetchone()
    restored.close()
