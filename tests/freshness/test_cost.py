"""The freshness check is cheap: a command lists ``snapshots/`` once, and shares that listing
with its own reading (backup's parent, restore's ``latest``, snapshots, check)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from engine.cli_support import run_cli

from coffer.backends.base import ObjectType
from coffer.backends.local import LocalBackend

from .support import backup


@pytest.fixture
def listings(monkeypatch: pytest.MonkeyPatch) -> list[ObjectType]:
    seen: list[ObjectType] = []
    real = LocalBackend.list

    def counting(self: LocalBackend, kind: ObjectType) -> Iterator[tuple[str, int]]:
        seen.append(kind)
        return real(self, kind)

    monkeypatch.setattr(LocalBackend, "list", counting)
    return seen


def test_each_reading_command_lists_snapshots_once(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    listings: list[ObjectType],
) -> None:
    key = tmp_path / "key.txt"
    monkeypatch.setenv("COFFER_REPO", str(tmp_path / "repo"))
    assert run_cli(capsys, "init", "--save-recovery-key", str(key)).code == 0
    monkeypatch.setenv("COFFER_RECOVERY_KEY", key.read_text().strip())
    src = tmp_path / "chats"
    src.mkdir()
    for n in range(3):
        (src / "msgstore.txt").write_text(f"day {n}")
        backup(capsys, str(src))
    commands = {
        "backup": ["backup", str(src)],
        "snapshots": ["snapshots"],
        "restore": ["restore", "latest", "--target", str(tmp_path / "out")],
        "ls": ["ls", "latest"],
        "check": ["check"],
    }
    for name, args in commands.items():
        listings.clear()
        r = run_cli(capsys, *args)
        assert r.code == 0, r.err
        assert listings.count(ObjectType.SNAPSHOTS) == 1, (name, listings)
