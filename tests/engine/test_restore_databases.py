"""A database restored over a chat store opens with exactly the snapshot's content, whatever
``-wal``/``-shm``/``-journal`` the target held (an app killed before a checkpoint, or in the
middle of a transaction, leaves them), in both database modes."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from coffer.sqlite.logical import canonical_digest

from .cli_support import run_cli
from .conftest import RepoHandle

ROWS = 2001

# The "app": opens the restored database, changes it and is killed before it can clean up.
_APP = r"""
import os, sqlite3, sys
db, journal = sys.argv[1], sys.argv[2]
con = sqlite3.connect(db, isolation_level=None)
if journal == "wal":
    con.execute("PRAGMA wal_autocheckpoint=0")   # the WAL keeps every frame
# the store moved on after the backup (committed), ...
con.execute("INSERT INTO messages(id, body) SELECT id + 100000, body FROM messages")
con.execute("DELETE FROM messages WHERE id > 502 AND id < 100000")
if journal != "wal":
    con.execute("PRAGMA cache_size=2")           # spill: the main file is written mid-transaction
    con.execute("BEGIN")                         # ... and then a transaction was interrupted
    con.execute("DELETE FROM messages WHERE id > 100502")
con.execute("INSERT INTO messages(id, body) VALUES (9999, 'stale row from the old phone')")
print("ready", flush=True)
sys.stdin.read()                                 # killed here, before commit/checkpoint
"""


def _make_store(root: Path, journal: str) -> Path:
    store = root / "chat-store"
    store.mkdir()
    db = store / "msgstore.db"
    con = sqlite3.connect(db)
    con.execute(f"PRAGMA journal_mode={'WAL' if journal == 'wal' else 'DELETE'}")
    con.execute("CREATE TABLE messages(id INTEGER PRIMARY KEY, body TEXT)")
    con.executemany(
        "INSERT INTO messages VALUES (?, ?)",
        [(i, f"message {i} " + "x" * 200) for i in range(1, ROWS + 1)],
    )
    con.commit()
    con.close()  # last connection: checkpointed, no -wal left
    (store / "media").mkdir()
    (store / "media" / "a.jpg").write_bytes(b"\xff\xd8\xff" + b"j" * 5000)
    return store


def _kill_the_app_mid_write(db: Path, journal: str) -> None:
    app = subprocess.Popen(
        [sys.executable, "-c", _APP, str(db), journal],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert app.stdout is not None and app.stdout.readline().strip() == "ready"
    app.send_signal(signal.SIGKILL)
    app.wait()
    left = db.with_name(db.name + ("-wal" if journal == "wal" else "-journal"))
    assert left.exists() and left.stat().st_size > 0, "the app left no companion to replay"


@pytest.mark.parametrize("journal", ["wal", "hot-journal"])
@pytest.mark.parametrize("db_mode", ["logical", "pages"])
def test_restore_over_a_store_with_stale_companions_gives_the_snapshot_content(
    repo_handle: RepoHandle,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    db_mode: str,
    journal: str,
) -> None:
    monkeypatch.setenv("COFFER_REPO", str(repo_handle.path))
    monkeypatch.setenv("COFFER_RECOVERY_KEY", repo_handle.key.display())
    store = _make_store(tmp_path, journal)
    db = store / "msgstore.db"
    expected = canonical_digest(db)
    r = run_cli(capsys, "backup", "--db-mode", db_mode, str(store))
    assert r.code == 0, r.err

    _kill_the_app_mid_write(db, journal)  # the phone's store now holds the app's leftovers
    r = run_cli(capsys, "restore", "latest", "--target", str(tmp_path), "--overwrite", "always")
    assert r.code == 0, r.err
    leftovers = sorted(p.name for p in store.iterdir() if p.name.startswith("msgstore.db-"))
    assert leftovers == [], leftovers  # the stale companions went with the old database
    suffix = "-wal" if journal == "wal" else "-journal"
    assert f"msgstore.db{suffix}" in r.out and "moved aside" in r.out, r.out

    con = sqlite3.connect(db)  # as the app opens it: read-write, replaying what it finds
    try:
        assert con.execute("SELECT count(*) FROM messages").fetchone()[0] == ROWS
        assert con.execute("SELECT count(*) FROM messages WHERE id = 9999").fetchone()[0] == 0
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        con.close()
    assert canonical_digest(db) == expected
