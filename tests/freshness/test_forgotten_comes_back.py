"""A snapshot the owner forgot stays forgotten when storage shows it again (review Q1).

The provider kept a copy of a snapshot object that the owner removed with ``forget`` and puts
it back beside the forget record: it must not be listed, and above all not become ``latest``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from engine.cli_support import run_cli

from .support import backup, init_repo, snapshot_ids


def test_a_forgotten_snapshot_put_back_is_ignored_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo, src = init_repo(tmp_path, monkeypatch, capsys)
    (src / "chat.txt").write_text("good state")
    good = backup(capsys, str(src))
    (src / "chat.txt").write_text("BAD state the owner forgot")
    bad = backup(capsys, str(src))
    kept = tmp_path / "provider-copy"
    shutil.copy2(repo / "snapshots" / bad, kept)
    assert run_cli(capsys, "forget", bad).code == 0
    shutil.copy2(kept, repo / "snapshots" / bad)  # the provider puts it back

    assert snapshot_ids(capsys) == [good]
    r = run_cli(capsys, "restore", "latest", "--target", str(tmp_path / "out"))
    assert r.code == 0, r.err
    assert f"snapshot {bad[:8]} was removed by the owner's forget record" in r.err
    assert (tmp_path / "out" / "chats" / "chat.txt").read_text() == "good state"
    monkeypatch.setenv("COFFER_STATE_DIR", str(tmp_path / "new-device"))
    assert snapshot_ids(capsys) == [good]


def _setup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[Path, list[str]]:
    repo, src = init_repo(tmp_path, monkeypatch, capsys)
    ids = []
    for day in ("day one", "day two"):
        (src / "chat.txt").write_text(day)
        ids.append(backup(capsys, str(src)))
    return repo, ids


def test_junk_under_a_random_name_does_not_excuse_a_known_missing_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """review Q7: objects are named by their content's hash, so junk under another name cannot
    be the newest snapshot this device knows."""
    repo, (_first, newest) = _setup(tmp_path, monkeypatch, capsys)
    (repo / "snapshots" / newest).unlink()
    (repo / "snapshots" / ("ab" * 32)).write_bytes(b"junk" * 100)
    r = run_cli(capsys, "snapshots")
    assert r.code == 20 and newest[:8] in r.err, (r.code, r.err)


def test_an_accepted_loss_does_not_hide_the_snapshot_when_storage_serves_it_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """review Q10: after --accept-rollback the genuine newest snapshot, served again, is listed."""
    repo, (first, newest) = _setup(tmp_path, monkeypatch, capsys)
    kept = tmp_path / "kept"
    shutil.copy2(repo / "snapshots" / newest, kept)
    (repo / "snapshots" / newest).unlink()
    assert run_cli(capsys, "snapshots").code == 20
    assert run_cli(capsys, "snapshots", "--accept-rollback").code == 0
    shutil.copy2(kept, repo / "snapshots" / newest)
    assert snapshot_ids(capsys) == [first, newest]


def test_a_junk_object_in_snapshots_does_not_block_forget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """review: one junk object in snapshots/ made every forget exit 12 (the provider could block
    all retention with one file); it is neither kept nor removed."""
    repo, (first, newest) = _setup(tmp_path, monkeypatch, capsys)
    junk = repo / "snapshots" / ("cd" * 32)
    junk.write_bytes(b"junk" * 100)
    r = run_cli(capsys, "forget", "--keep-last", "1")
    assert r.code == 0, r.err
    assert snapshot_ids(capsys) == [newest] and junk.exists()
    assert first != newest
