"""Restore into a folder that already holds data: explicit ``--overwrite`` semantics (default
``never``), ``--delete``, ``--dry-run`` that lists every decision, a summary with the counts, and
files another process has open for writing left alone."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .cli_support import run_cli
from .conftest import RepoHandle

OLD = 1_600_000_000_000_000_000  # an mtime well before the backup
NEW = time.time_ns() + 3600 * 10**9  # an mtime after it


@pytest.fixture
def cli_env(repo_handle: RepoHandle, monkeypatch: pytest.MonkeyPatch) -> RepoHandle:
    monkeypatch.setenv("COFFER_REPO", str(repo_handle.path))
    monkeypatch.setenv("COFFER_RECOVERY_KEY", repo_handle.key.display())
    return repo_handle


def _source(root: Path) -> Path:
    src = root / "src"
    src.mkdir()
    for name in ("a.txt", "b.txt", "c.txt", "d.txt"):
        (src / name).write_text(f"snapshot's {name}\n")
    return src


def _target(root: Path, name: str, src: Path) -> Path:
    """A target holding an earlier restore of ``src`` that the user then changed."""
    t = root / name / "src"
    t.mkdir(parents=True)
    for f in ("a.txt", "b.txt", "c.txt"):
        (t / f).write_bytes((src / f).read_bytes())
        st = (src / f).stat()
        os.utime(t / f, ns=(st.st_mtime_ns, st.st_mtime_ns))
    (t / "a.txt").write_text("the user's newer a\n")  # changed after the backup
    os.utime(t / "a.txt", ns=(NEW, NEW))
    (t / "c.txt").write_text("an older c\n")  # differs, but older than the snapshot's
    os.utime(t / "c.txt", ns=(OLD, OLD))
    (t / "extra.txt").write_text("not in the snapshot\n")
    return t.parent


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        h.update(str(p.relative_to(root)).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


def test_the_default_keeps_changed_files_and_says_so(
    cli_env: RepoHandle, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _source(tmp_path)
    assert run_cli(capsys, "backup", str(src)).code == 0
    target = _target(tmp_path, "t", src)
    r = run_cli(capsys, "restore", "latest", "--target", str(target))
    assert r.code == 0, r.err
    assert (target / "src/a.txt").read_text() == "the user's newer a\n"  # not silently replaced
    assert (target / "src/c.txt").read_text() == "an older c\n"
    assert (target / "src/d.txt").read_text() == "snapshot's d.txt\n"
    assert (target / "src/extra.txt").exists()
    assert "create 1, replace 0; 1 unchanged, 2 kept" in r.out, r.out
    assert "kept as they are (--overwrite never): src/a.txt, src/c.txt" in r.out


@pytest.mark.parametrize(
    ("mode", "expect", "counts"),
    [
        (
            "if-changed",
            {"a": "snapshot", "c": "snapshot"},
            "create 1, replace 2; 1 unchanged, 0 kept",
        ),
        ("if-newer", {"a": "user", "c": "snapshot"}, "create 1, replace 1; 1 unchanged, 1 kept"),
        ("always", {"a": "snapshot", "c": "snapshot"}, "create 1, replace 3; 0 unchanged, 0 kept"),
    ],
)
def test_overwrite_modes(
    cli_env: RepoHandle,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    mode: str,
    expect: dict[str, str],
    counts: str,
) -> None:
    src = _source(tmp_path)
    assert run_cli(capsys, "backup", str(src)).code == 0
    target = _target(tmp_path, mode, src)
    r = run_cli(capsys, "restore", "latest", "--target", str(target), "--overwrite", mode)
    assert r.code == 0, r.err
    assert counts in r.out, r.out
    for f, who in expect.items():
        snapshot_text = (src / f"{f}.txt").read_text()
        assert ((target / f"src/{f}.txt").read_text() == snapshot_text) == (who == "snapshot"), f
    assert (target / "src/b.txt").read_text() == "snapshot's b.txt\n"
    assert (target / "src/extra.txt").exists()  # only --delete removes


def test_dry_run_lists_every_decision_and_writes_nothing_then_delete_removes(
    cli_env: RepoHandle, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _source(tmp_path)
    assert run_cli(capsys, "backup", str(src)).code == 0
    target = _target(tmp_path, "t", src)
    (target / "beside-the-sources.txt").write_text("TARGET itself is never cleaned")
    before = _digest(target)
    args = ["restore", "latest", "--target", str(target), "--delete", "--overwrite", "if-changed"]
    r = run_cli(capsys, *args, "--dry-run")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    for line in (
        "would replace         src/a.txt",
        "would replace         src/c.txt",
        "would create          src/d.txt",
        "would delete          src/extra.txt",
    ):
        assert line in lines, r.out
    assert "would create 1, replace 2, delete 1; 1 unchanged, 0 kept — nothing was written" in r.out
    assert _digest(target) == before
    nowhere = tmp_path / "not-yet"
    assert run_cli(capsys, "restore", "latest", "--target", str(nowhere), "--dry-run").code == 0
    assert not nowhere.exists()

    r = run_cli(capsys, *args)
    assert r.code == 0, r.err
    assert "create 1, replace 2, delete 1; 1 unchanged, 0 kept" in r.out
    assert sorted(p.name for p in (target / "src").iterdir()) == [
        "a.txt",
        "b.txt",
        "c.txt",
        "d.txt",
    ]
    assert (target / "beside-the-sources.txt").exists()


_HOLD = r"""
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])      # SQLite opens read-write: the app's own connection
con.execute("SELECT count(*) FROM messages").fetchone()
print("ready", flush=True)
sys.stdin.read()
"""


def test_a_database_another_process_has_open_is_not_replaced(
    cli_env: RepoHandle, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "chat-store"
    store.mkdir()
    db = store / "msgstore.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE messages(id INTEGER PRIMARY KEY, body TEXT)")
    con.executemany("INSERT INTO messages VALUES (?, ?)", [(i, "m") for i in range(100)])
    con.commit()
    con.close()
    assert run_cli(capsys, "backup", str(store)).code == 0
    with sqlite3.connect(db) as con:
        con.execute("DELETE FROM messages WHERE id > 10")  # the live store moved on
    app = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert app.stdout is not None and app.stdout.readline().strip() == b"ready"
        r = run_cli(capsys, "restore", "latest", "--target", str(tmp_path), "--overwrite", "always")
        assert r.code == 17, r.err
        assert f"process {app.pid}" in r.err and "chat-store/msgstore.db" in r.err
        with sqlite3.connect(db) as con:  # untouched: the app would have lost its writes
            assert con.execute("SELECT count(*) FROM messages").fetchone()[0] == 11
    finally:
        app.send_signal(signal.SIGKILL)
        app.wait()
    r = run_cli(capsys, "restore", "latest", "--target", str(tmp_path), "--overwrite", "always")
    assert r.code == 0, r.err
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM messages").fetchone()[0] == 100


def test_path_keeps_the_layout_and_takes_paths_as_ls_and_snapshots_print_them(
    cli_env: RepoHandle, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "chat-store"
    (store / "media").mkdir(parents=True)
    (store / "notes.txt").write_text("notes")
    (store / "media" / "a.jpg").write_bytes(b"\xff\xd8\xff" + b"a" * 100)
    latin1 = os.path.join(os.fsencode(store / "media"), b"caf\xe9.jpg")
    with open(latin1, "wb") as fh:
        fh.write(b"\xff\xd8\xff latin-1 name")
    assert run_cli(capsys, "backup", str(store)).code == 0
    shown = run_cli(capsys, "snapshots").out  # prints the absolute source path
    assert str(store) in shown
    listed = run_cli(capsys, "ls", "latest").out.splitlines()
    escaped = next(line.split()[-1] for line in listed if "caf" in line)
    assert escaped == "chat-store/media/caf\\xe9.jpg"
    target = tmp_path / "out"
    r = run_cli(
        capsys, "restore", "latest", "--target", str(target),
        "--path", "chat-store/notes.txt",              # as `ls` prints it
        "--path", f"{store}/media/a.jpg",              # below the path `snapshots` prints
        "--path", escaped,                             # an escaped name, as `ls` prints it
    )  # fmt: skip
    assert r.code == 0, r.err
    assert (target / "chat-store/notes.txt").read_text() == "notes"
    assert (target / "chat-store/media/a.jpg").read_bytes().endswith(b"a" * 100)
    assert os.path.exists(os.path.join(os.fsencode(target / "chat-store/media"), b"caf\xe9.jpg"))
    assert sorted(os.listdir(target)) == ["chat-store"]
    r = run_cli(capsys, "restore", "latest", "--target", str(target), "--path", "chat-store/nope")
    assert r.code == 2 and "'chat-store/nope' is not in snapshot" in r.err


def test_verify_compares_by_content_and_names_what_differs(
    cli_env: RepoHandle, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from coffer.sample import ChatStoreSpec, generate_chat_store

    store = tmp_path / "chat-store"
    generate_chat_store(store, ChatStoreSpec(seed=5, messages=3000, media_bytes=2_000_000))
    assert run_cli(capsys, "backup", str(store)).code == 0
    target = tmp_path / "out"
    r = run_cli(capsys, "restore", "latest", "--target", str(target), "--verify")
    assert r.code == 0, r.err
    assert "its bytes differ from the original file" in r.out  # the note on databases
    assert re.search(r"verified \d+ files against snapshot \w{8} \(1 database by content", r.out)
    assert "all match" in r.out
    assert (target / "chat-store/msgstore.db").read_bytes() != (store / "msgstore.db").read_bytes()

    with sqlite3.connect(target / "chat-store/msgstore.db") as con:
        con.execute("UPDATE messages SET text_data = 'edited' WHERE _id = 7")
    con.close()
    photo = next(p for p in (target / "chat-store/media").rglob("*") if p.is_file())
    photo.write_bytes(photo.read_bytes()[:-1] + b"\x00")
    r = run_cli(capsys, "restore", "latest", "--target", str(target), "--dry-run", "--verify")
    assert r.code == 17, r.err
    assert "chat-store/msgstore.db: schema or rows differ from the snapshot" in r.err
    assert f"{photo.relative_to(target)}: content differs from the snapshot" in r.err
