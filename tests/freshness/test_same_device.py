"""Freshness on one device (issue 12): a rollback or a hidden newest snapshot is refused with
exit 20 and a message saying what is missing; an owner's forget/prune is not an alarm;
``--accept-rollback`` goes on and makes the loss agreed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from engine.cli_support import run_cli

from .support import backup, put_back, refused, snapshot_copy, snapshot_ids


@pytest.fixture
def repo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Path:
    path = tmp_path / "repo"
    key = tmp_path / "key.txt"
    monkeypatch.setenv("COFFER_REPO", str(path))
    r = run_cli(capsys, "init", "--save-recovery-key", str(key))
    assert r.code == 0, r.err
    monkeypatch.setenv("COFFER_RECOVERY_KEY", key.read_text().strip())
    return path


def _src(tmp_path: Path, text: str) -> Path:
    src = tmp_path / "chats"
    src.mkdir(exist_ok=True)
    (src / "msgstore.txt").write_text(text)
    return src


def test_rollback_to_an_older_copy_is_refused_on_the_same_device(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = backup(capsys, str(_src(tmp_path, "day one")))
    old = snapshot_copy(repo, tmp_path / "copy-after-backup-1")
    second = backup(capsys, str(_src(tmp_path, "day two, more messages")))
    put_back(old, repo)
    for args in (
        ["snapshots"],
        ["restore", "latest", "--target", str(tmp_path / "out")],
        ["ls", "latest"],
        ["check"],
        ["backup", str(tmp_path / "chats")],
    ):
        r = run_cli(capsys, *args)
        assert refused(r), (args, r.code, r.err)
        assert "objects" in r.err or "object" in r.err
        assert second[:8] in r.err and "since" in r.err, r.err  # what is missing, since when
        assert "--accept-rollback" in r.err
    assert not (tmp_path / "out").exists()  # nothing restored from the older state
    assert snapshot_ids(capsys, "--accept-rollback") == [first]


def test_hidden_newest_snapshot_is_refused_on_the_same_device(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backup(capsys, str(_src(tmp_path, "day one")))
    newest = backup(capsys, str(_src(tmp_path, "day two")))
    (repo / "snapshots" / newest).unlink()  # the provider deletes the newest snapshot object
    r = run_cli(capsys, "restore", "latest", "--target", str(tmp_path / "out"))
    assert refused(r), r.err
    assert "rollback, or the newest hidden" in r.err and newest[:8] in r.err


def test_a_middle_snapshot_deleted_without_a_forget_record_is_named_as_such(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backup(capsys, str(_src(tmp_path, "day one")))
    middle = backup(capsys, str(_src(tmp_path, "day two")))
    backup(capsys, str(_src(tmp_path, "day three")))
    (repo / "snapshots" / middle).unlink()
    r = run_cli(capsys, "snapshots")
    assert refused(r) and "removed without a forget record" in r.err, r.err


def test_owner_forget_and_prune_are_no_alarm(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = [backup(capsys, str(_src(tmp_path, f"day {n}"))) for n in range(4)]
    r = run_cli(capsys, "forget", "--keep-last", "1", "--prune")
    assert r.code == 0, r.err
    assert snapshot_ids(capsys) == [ids[-1]]
    r = run_cli(capsys, "forget", ids[-1])  # by ID; the older forget record is superseded
    assert r.code == 0, r.err
    assert snapshot_ids(capsys) == []
    forgets = list((repo / "snapshots").iterdir())
    assert len(forgets) == 1  # one forget record, carrying the superseded one's entries
    backup(capsys, str(_src(tmp_path, "day five")))
    r = run_cli(capsys, "check")
    assert r.code == 0, r.err


def test_accept_rollback_writes_a_forget_record_and_moves_the_record(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = backup(capsys, str(_src(tmp_path, "day one")))
    old = snapshot_copy(repo, tmp_path / "copy")
    backup(capsys, str(_src(tmp_path, "day two")))
    put_back(old, repo)
    r = run_cli(capsys, "--accept-rollback", "snapshots", "--json")
    assert r.code == 0, r.err
    assert [s["id"] for s in json.loads(r.out)] == [first]
    assert "accepted what storage shows" in r.err and "forget record" in r.err
    r = run_cli(capsys, "snapshots")  # accepted once: no alarm afterwards
    assert r.code == 0, r.err
    backup(capsys, str(_src(tmp_path, "day three")))
    assert run_cli(capsys, "check").code == 0
