"""A config put back from before ``coffer migrate`` must not switch freshness off (review Q3).

The golden v1 repository says "freshness unknown" and restores; once this device has seen the
repository as format v2, storage showing the v1 config again is a rollback: exit 20.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from engine.cli_support import run_cli

from .support import golden_v1


def test_a_v1_config_put_back_after_migrate_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    meta = golden_v1(repo)
    monkeypatch.setenv("COFFER_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("COFFER_REPO", str(repo))
    monkeypatch.setenv("COFFER_RECOVERY_KEY", meta["recovery_key"])

    r = run_cli(capsys, "restore", "latest", "--target", str(tmp_path / "v1-out"))
    assert r.code == 0 and "freshness unknown (format v1)" in r.err, r.err
    v1_config = (repo / "config").read_bytes()
    assert run_cli(capsys, "migrate").code == 0
    src = tmp_path / "chats"
    src.mkdir()
    (src / "day.txt").write_text("after the migration")
    assert run_cli(capsys, "backup", str(src)).code == 0

    (repo / "config").write_bytes(v1_config)  # the provider puts the old config back
    for args in (["snapshots"], ["restore", "latest", "--target", str(tmp_path / "out")]):
        r = run_cli(capsys, *args)
        assert r.code == 20, (args, r.code, r.err)
        assert "storage shows this repository as format v1" in r.err and "since" in r.err
        assert "Traceback" not in r.err
    assert not (tmp_path / "out").exists()

    r = run_cli(capsys, "snapshots", "--accept-rollback")
    assert r.code == 0 and "accepted a format-v1 config" in r.err, r.err

    monkeypatch.setenv("COFFER_STATE_DIR", str(tmp_path / "new-device"))  # no record, no witness
    r = run_cli(capsys, "snapshots")
    assert r.code == 0 and "freshness unknown (format v1)" in r.err, r.err
