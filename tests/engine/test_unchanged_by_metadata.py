"""A second backup decides "unchanged" from metadata alone: it opens no unchanged file (no header
read, no pre-scan), dumps no unchanged database, and counts every file once, right.

Opens are counted in-process with an audit hook (``open`` is raised by ``open()`` and
``os.open``; ``sqlite3.connect`` and ``subprocess.Popen`` — a dump child — have their own events).
"""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from coffer.ops.backup import BackupOptions, BackupResult, backup

from .conftest import RepoHandle

_WATCHED: list[tuple[str, str]] = []  # (event, path) while a test records
_PREFIX: list[str] = []


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if not _PREFIX or event not in ("open", "sqlite3.connect", "subprocess.Popen"):
        return
    if event == "subprocess.Popen":
        text = " ".join(str(a) for a in (args[1] or []))
        if "coffer.sqlite" in text and _PREFIX[0] in text:
            _WATCHED.append((event, text))
        return
    target = args[0]
    if isinstance(target, bytes):
        target = os.fsdecode(target)
    if isinstance(target, (str, os.PathLike)) and str(target).startswith(_PREFIX[0]):
        _WATCHED.append((event, str(target)))


sys.addaudithook(_hook)  # cannot be removed: it does nothing unless a test sets _PREFIX


class watching:
    def __init__(self, root: Path) -> None:
        self.root = str(root)

    def __enter__(self) -> list[tuple[str, str]]:
        _WATCHED.clear()
        _PREFIX[:] = [self.root]
        return _WATCHED

    def __exit__(self, *exc: object) -> None:
        _PREFIX.clear()


def _store(root: Path, journal: str = "WAL") -> Path:
    store = root / "chat-store"
    (store / "media").mkdir(parents=True)
    for i in range(30):
        (store / "media" / f"IMG-{i:03d}.jpg").write_bytes(b"\xff\xd8\xff" + os.urandom(5000))
    (store / "notes.txt").write_text("notes\n" * 100)
    con = sqlite3.connect(store / "msgstore.db")
    con.execute(f"PRAGMA journal_mode={journal}")
    con.execute("CREATE TABLE messages(id INTEGER PRIMARY KEY, body TEXT)")
    con.executemany("INSERT INTO messages VALUES (?, ?)", [(i, "hi") for i in range(500)])
    con.commit()
    con.close()
    return store


def _counts(r: BackupResult) -> tuple[int, int, int]:
    return r.files_new, r.files_changed, r.files_unchanged


@pytest.fixture(params=["logical", "pages"])
def db_mode(request: pytest.FixtureRequest) -> Iterator[str]:
    yield request.param


def test_an_unchanged_second_backup_opens_nothing_and_dumps_nothing(
    repo_handle: RepoHandle, tmp_path: Path, db_mode: str
) -> None:
    store = _store(tmp_path)
    opts = BackupOptions(db_mode=db_mode)
    first = backup(repo_handle.open(), [store], opts)
    assert _counts(first) == (32, 0, 0)  # the database is new, not "changed"
    with watching(store) as seen:
        second = backup(repo_handle.open(), [store], opts)
    assert seen == [], seen[:5]
    assert _counts(second) == (0, 0, 32) and second.bytes_read == 0
    db = next(n for n in second.snapshot.tree[0].children if n.name == "msgstore.db")
    old = next(n for n in first.snapshot.tree[0].children if n.name == "msgstore.db")
    assert db.format == f"sqlite-{db_mode}" and list(db.content) == list(old.content)


def test_a_changed_database_is_dumped_and_only_it_is_opened(
    repo_handle: RepoHandle, tmp_path: Path
) -> None:
    store = _store(tmp_path, journal="DELETE")
    backup(repo_handle.open(), [store])
    with sqlite3.connect(store / "msgstore.db") as con:
        con.execute("INSERT INTO messages VALUES (1000, 'new message')")
    con.close()
    with watching(store) as seen:
        second = backup(repo_handle.open(), [store])
    assert _counts(second) == (0, 1, 31)
    opened = {Path(p).name for _event, p in seen if "media" in p or p.endswith("notes.txt")}
    assert opened == set(), opened
    assert any("msgstore.db" in p for _e, p in seen)  # the database itself was read


def test_a_database_whose_wal_holds_commits_is_dumped_again(
    repo_handle: RepoHandle, tmp_path: Path
) -> None:
    store = _store(tmp_path, journal="WAL")
    backup(repo_handle.open(), [store])
    db = store / "msgstore.db"
    before = os.stat(db)
    con = sqlite3.connect(db)  # stays open: the commit sits in the -wal, the file is untouched
    con.execute("PRAGMA wal_autocheckpoint=0")
    con.execute("INSERT INTO messages VALUES (1000, 'in the wal only')")
    con.commit()
    try:
        after = os.stat(db)
        assert (after.st_mtime_ns, after.st_size) == (before.st_mtime_ns, before.st_size)
        second = backup(repo_handle.open(), [store])
    finally:
        con.close()
    assert _counts(second) == (0, 1, 31)
