"""``coffer dump``: a file as it is, a folder as a tar, the whole snapshot; refusals."""

from __future__ import annotations

import io
import os
import pty
import sqlite3
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from engine.cli_support import run_cli

from coffer.backends.base import ObjectType
from coffer.backends.local import LocalBackend
from coffer.cli.main import main

ODD = os.fsdecode(b"caf\xe9-latin1.txt")  # a name that is not UTF-8


@pytest.fixture
def snapshot(repo: Path, tmp_path: Path) -> Path:
    src = tmp_path / "chat-store"
    (src / "media" / "voice").mkdir(parents=True)
    db = sqlite3.connect(src / "msgstore.db")
    db.execute("CREATE TABLE m (id INTEGER PRIMARY KEY, body TEXT)")
    db.executemany("INSERT INTO m (body) VALUES (?)", [(f"hello {i}",) for i in range(500)])
    db.commit()
    db.close()
    (src / "notes.txt").write_text("notes\n" * 100)
    (src / "media" / "photo.jpg").write_bytes(b"\xff\xd8" + os.urandom(300_000))
    (src / "media" / "voice" / "a.opus").write_bytes(b"OggS" + os.urandom(5000))
    (src / "media" / os.fsencode(ODD).decode("utf-8", "surrogateescape")).write_bytes(b"odd")
    os.chmod(src / "media" / "photo.jpg", 0o640)
    os.symlink("photo.jpg", src / "media" / "latest.jpg")
    assert main(["backup", "-q", str(src)]) == 0
    return src


def _dump(capsysbinary: pytest.CaptureFixture[bytes], *args: str) -> tuple[int, bytes, bytes]:
    capsysbinary.readouterr()
    code = main(["dump", *args])
    out, err = capsysbinary.readouterr()
    return code, out, err


def test_a_file_goes_to_stdout_as_it_is(
    snapshot: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    code, out, _ = _dump(capsysbinary, "latest", "chat-store/media/photo.jpg")
    assert code == 0 and out == (snapshot / "media" / "photo.jpg").read_bytes()
    code, out, _ = _dump(capsysbinary, "latest", str(snapshot / "notes.txt"))  # the source path
    assert code == 0 and out == (snapshot / "notes.txt").read_bytes()


def test_a_logical_mode_database_is_rebuilt(
    snapshot: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "dumped.db"
    r = run_cli(capsys, "dump", "latest", "chat-store/msgstore.db", "--target", str(out))
    assert r.code == 0, r.err
    rows = sqlite3.connect(out).execute("SELECT count(*), max(body) FROM m").fetchone()
    assert rows == (500, "hello 99")
    r = run_cli(capsys, "dump", "latest", "chat-store/msgstore.db", "--target", str(out))
    assert r.code == 2 and "cannot create" in r.err  # never overwrites


def test_a_folder_is_a_tar_with_modes_links_and_byte_exact_names(
    snapshot: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    code, out, err = _dump(capsysbinary, "latest", "chat-store/media")
    assert code == 0, err
    with tarfile.open(fileobj=io.BytesIO(out)) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert set(members) == {
            "media", "media/voice", "media/voice/a.opus", "media/photo.jpg",
            "media/latest.jpg", f"media/{ODD}",
        }  # fmt: skip
        photo = members["media/photo.jpg"]
        assert photo.mode == 0o640 and photo.isfile()
        assert int(photo.mtime) == int((snapshot / "media/photo.jpg").stat().st_mtime)
        assert tar.extractfile(photo).read() == (snapshot / "media/photo.jpg").read_bytes()  # type: ignore[union-attr]
        assert members["media/latest.jpg"].issym()
        assert members["media/latest.jpg"].linkname == "photo.jpg"
        assert tar.extractfile(members[f"media/{ODD}"]).read() == b"odd"  # type: ignore[union-attr]


def test_the_whole_snapshot_and_gnu_tar_agree(
    snapshot: Path, tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    code, out, _ = _dump(capsysbinary, "latest", "/")
    assert code == 0
    (tmp_path / "x").mkdir()
    done = subprocess.run(["tar", "-x", "-C", str(tmp_path / "x")], input=out, capture_output=True)
    assert done.returncode == 0, done.stderr
    got = tmp_path / "x" / "chat-store"
    assert (got / "media/voice/a.opus").read_bytes() == (
        snapshot / "media/voice/a.opus"
    ).read_bytes()
    assert os.fsencode(ODD) in os.listdir(os.fsencode(got / "media"))
    assert sqlite3.connect(got / "msgstore.db").execute("SELECT count(*) FROM m").fetchone() == (
        500,
    )


def test_refusals(snapshot: Path, capsys: pytest.CaptureFixture[str]) -> None:
    r = run_cli(capsys, "dump", "latest", "chat-store/nothing-here")
    assert r.code == 2 and "is not in snapshot" in r.err
    r = run_cli(capsys, "dump", "latest", "chat-store/media/latest.jpg")
    assert r.code == 2 and "is a symlink to 'photo.jpg'" in r.err
    r = run_cli(capsys, "dump", "--host", "elsewhere", "latest", "chat-store/notes.txt")
    assert r.code in (2, 10) and "no snapshot matches --host elsewhere" in r.err


def test_stdout_must_not_be_a_terminal(snapshot: Path, repo: Path) -> None:
    main, tty = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "coffer", "dump", "latest", "chat-store/notes.txt"],
            stdout=tty, stderr=subprocess.PIPE, timeout=120,
        )  # fmt: skip
    finally:
        os.close(main)
        os.close(tty)
    assert done.returncode == 2 and b"stdout is a terminal" in done.stderr


def test_a_damaged_blob_stops_the_stream_with_exit_code_12(
    snapshot: Path, repo: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    backend = LocalBackend(repo)
    for name, size in backend.list(ObjectType.DATA):
        path = next(repo.glob(f"data/*/{name}"))
        data = bytearray(path.read_bytes())
        for offset in range(0, max(size - 200, 1), 4096):  # damage every pack's payload
            data[offset] ^= 0xFF
        os.chmod(path, 0o600)
        path.write_bytes(bytes(data))
    code, _out, err = _dump(capsysbinary, "latest", "chat-store/media/photo.jpg")
    assert code == 12 and b"internal error" not in err and err.count(b"\n") == 1
