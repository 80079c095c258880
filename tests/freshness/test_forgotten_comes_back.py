"""A snapshot the owner forgot stays forgotten when storage shows it again (review Q1).

The provider kept a copy of a snapshot object that the owner removed with ``forget`` and puts
it back beside the forget record: it must not be listed, and above all not become ``latest``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from engine.cli_support import run_cli

from .support import backup, snapshot_ids


def test_a_forgotten_snapshot_put_back_is_ignored_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo, key = tmp_path / "repo", tmp_path / "key.txt"
    monkeypatch.setenv("COFFER_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("COFFER_REPO", str(repo))
    assert run_cli(capsys, "init", "--save-recovery-key", str(key)).code == 0
    monkeypatch.setenv("COFFER_RECOVERY_KEY", key.read_text().strip())
    src = tmp_path / "chats"
    src.mkdir()
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
