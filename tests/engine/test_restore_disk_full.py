"""A restore into a full disk exits 14 (storage / disk full) naming the target — for a plain
file and for a database rebuilt by its child process — and leaves no partial file behind."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from .cli_support import run_cli
from .conftest import RepoHandle
from .tmpfs import tiny_tmpfs


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    with tiny_tmpfs(tmp_path / "tiny", "2m") as mnt:
        yield mnt


def _big_file(src: Path) -> None:
    (src / "voice.opus").write_bytes(b"OggS" + random.Random(3).randbytes(4_000_000))


def _big_database(src: Path) -> None:
    con = sqlite3.connect(src / "msgstore.db")
    con.execute("CREATE TABLE messages(id INTEGER PRIMARY KEY, body BLOB)")
    rng = random.Random(4)
    con.executemany(
        "INSERT INTO messages VALUES (?, ?)", [(i, rng.randbytes(400)) for i in range(10_000)]
    )
    con.commit()
    con.close()


@pytest.mark.parametrize("make", [_big_file, _big_database], ids=["file", "logical-database"])
def test_a_full_target_exits_14_naming_it_and_leaves_nothing_partial(
    repo_handle: RepoHandle,
    tmp_path: Path,
    full_disk: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    make: object,
) -> None:
    monkeypatch.setenv("COFFER_REPO", str(repo_handle.path))
    monkeypatch.setenv("COFFER_RECOVERY_KEY", repo_handle.key.display())
    src = tmp_path / "src"
    src.mkdir()
    make(src)  # type: ignore[operator]
    assert run_cli(capsys, "backup", "--db-mode", "logical", str(src)).code == 0
    target = full_disk / "restored"
    r = run_cli(capsys, "restore", "latest", "--target", str(target))
    assert r.code == 14, r.err
    assert f"no space left on {target}" in r.err and "src/" in r.err
    assert r.err.strip().splitlines()[-1].startswith("coffer: error:")
    leftovers = [p.name for p in target.rglob("*") if p.name.startswith(".coffer")]
    assert leftovers == [] and not (target / "src" / "voice.opus").exists()
