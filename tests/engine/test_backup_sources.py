"""What a backup does with its sources: a mistyped one is a usage error, a vanishing one is
"partial", and names POSIX allows (a backslash) are stored and restored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from coffer.engine.progress import Progress
from coffer.ops.backup import backup
from coffer.ops.restore import restore

from .cli_support import run_cli
from .conftest import RepoHandle


@pytest.fixture
def cli_env(repo_handle: RepoHandle, monkeypatch: pytest.MonkeyPatch) -> RepoHandle:
    monkeypatch.setenv("COFFER_REPO", str(repo_handle.path))
    monkeypatch.setenv("COFFER_RECOVERY_KEY", repo_handle.key.display())
    return repo_handle


def _snapshot_objects(handle: RepoHandle) -> list[Path]:
    return list((handle.path / "snapshots").glob("*"))


def test_a_source_missing_at_the_start_is_a_usage_error_and_writes_nothing(
    cli_env: RepoHandle, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    real = tmp_path / "chat-store"
    real.mkdir()
    (real / "msg.txt").write_text("hello")
    typo = tmp_path / "chat-stor"
    for args in ([str(typo)], [str(real), str(typo)]):
        r = run_cli(capsys, "backup", *args)
        assert r.code == 2, r.err
        assert str(typo) in r.err and "does not exist" in r.err and r.err.count("\n") == 1
        assert _snapshot_objects(cli_env) == []
        assert not [p for p in cli_env.path.rglob("*") if p.is_file() and "data" in p.parts]


def test_a_source_vanishing_during_the_backup_is_partial(
    cli_env: RepoHandle, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    for d in (first, second):
        d.mkdir()
        (d / "f.txt").write_text(d.name)

    class RemoveTheSecondSource(Progress):
        def file_done(self, path: str) -> None:
            if path.startswith("first/") and second.exists():
                (second / "f.txt").unlink()
                second.rmdir()

    result = backup(cli_env.open(), [first, second], progress=RemoveTheSecondSource())
    assert [s["path"] for s in result.skipped] == [str(second)]
    assert [n.name for n in result.snapshot.tree] == ["first"]
    r = run_cli(capsys, "snapshots", "--json")
    assert json.loads(r.out)[0]["skipped"] == 1


def test_names_with_a_backslash_are_stored_and_restored(
    cli_env: RepoHandle, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "src"
    (src / "dir\\with\\backslashes").mkdir(parents=True)
    (src / "dir\\with\\backslashes" / "voice\\note.opus").write_bytes(b"OggS" + b"x" * 100)
    (src / "plain.txt").write_text("plain")
    r = run_cli(capsys, "backup", str(src))
    assert r.code == 0, r.err
    target = tmp_path / "out"
    r = run_cli(capsys, "restore", "latest", "--target", str(target))
    assert r.code == 0, r.err
    restored = target / "src" / "dir\\with\\backslashes" / "voice\\note.opus"
    assert restored.read_bytes() == b"OggS" + b"x" * 100
    snap = cli_env.open().load_snapshot(cli_env.open().snapshot_ids()[0])
    res = restore(cli_env.open(), snap, tmp_path / "again")
    assert res.errors == [] and (tmp_path / "again/src/plain.txt").read_text() == "plain"
    r = run_cli(capsys, "ls", "latest")
    assert "src/dir\\\\with\\\\backslashes/voice\\\\note.opus" in r.out  # escaped: reversible
    again = backup(cli_env.open(), [src])
    assert again.skipped == [] and again.files_unchanged == 2
