"""Fixtures of the CLI tests: a repository in COFFER_REPO, its key in COFFER_RECOVERY_KEY."""

from __future__ import annotations

from pathlib import Path

import pytest

from coffer.cli.main import main


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("COFFER_REPO", str(tmp_path / "repo"))
    monkeypatch.delenv("COFFER_RECOVERY_KEY", raising=False)
    key = tmp_path / "key"
    assert main(["init", "-q", "--save-recovery-key", str(key)]) == 0
    monkeypatch.setenv("COFFER_RECOVERY_KEY", key.read_text())
    return tmp_path / "repo"
