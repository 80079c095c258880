"""Fixtures: a temporary HOME (the scheduler files go under it), a repository with a recovery key
in a file, and a small source tree."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from engine.cli_support import run_cli

_CLEARED = (
    "COFFER_REPO", "COFFER_REPOSITORY_FILE", "COFFER_RECOVERY_KEY", "COFFER_PASSWORD",
    "COFFER_CONFIG", "COFFER_STATE_DIR", "XDG_STATE_HOME", "CREDENTIALS_DIRECTORY",
    "JOURNAL_STREAM", "COFFER_VAULT", "COFFER_ACCOUNT",
)  # fmt: skip


@dataclass
class Home:
    root: Path
    repo: Path
    key_file: Path
    source: Path

    @property
    def units(self) -> Path:
        return self.root / ".config" / "systemd" / "user"


@pytest.fixture
def home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Home:
    root = tmp_path / "home"
    root.mkdir()
    for name in _CLEARED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(root))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(root / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(root / ".local" / "share"))
    monkeypatch.setenv("COFFER_REMEMBER_BACKEND", "file")  # never the machine's real keyring
    source = tmp_path / "chats"
    (source / "media").mkdir(parents=True)
    (source / "msgstore.txt").write_text("hello from the phone\n" * 500)
    (source / "media" / "a.jpg").write_bytes(b"\xff\xd8\xff" + bytes(range(256)) * 40)
    repo, key_file = tmp_path / "repo", tmp_path / "recovery.txt"
    r = run_cli(capsys, "init", "--repo", str(repo), "--save-recovery-key", str(key_file))
    assert r.code == 0, r.err
    return Home(root, repo, key_file, source)
