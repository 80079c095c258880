"""What a new user reads: one unit system for sizes, progress that ends at 100%, a named phase
while a database is rebuilt, plurals, and times with a time zone and without microseconds."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from coffer.engine.progress import Progress
from coffer.ops.backup import BackupOptions, backup
from coffer.ops.restore import restore

from .cli_support import run_cli
from .conftest import RepoHandle

ISO_WITH_ZONE = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[+-]\d\d:\d\d"


class Recorder(Progress):
    def __init__(self) -> None:
        self.total = self.done = 0
        self.phases: list[str] = []

    def start(self, total_bytes: int, total_files: int, label: str = "") -> None:
        self.total, self.done = total_bytes, 0
        self.phases.append(label)

    def advance(self, nbytes: int) -> None:
        self.done += nbytes

    def phase(self, label: str) -> None:
        self.phases.append(label)


def _store(root: Path) -> Path:
    from coffer.sample import ChatStoreSpec, generate_chat_store

    store = root / "chat-store"
    generate_chat_store(store, ChatStoreSpec(seed=9, messages=4000, media_bytes=1_500_000))
    (store / "msgstore.db-wal").write_bytes(b"")  # a companion: never stored, never counted
    return store


def test_backup_and_restore_progress_end_at_the_total_and_name_the_rebuild(
    repo_handle: RepoHandle, tmp_path: Path
) -> None:
    store = _store(tmp_path)
    seen = Recorder()
    result = backup(repo_handle.open(), [store], BackupOptions(db_mode="logical"), seen)
    assert seen.total > 0 and seen.done == seen.total, (seen.done, seen.total)
    seen = Recorder()
    restore(repo_handle.open(), result.snapshot, tmp_path / "out", progress=seen)
    assert seen.done == seen.total, (seen.done, seen.total)
    assert "rebuilding database chat-store/msgstore.db" in seen.phases


def test_the_bar_and_the_summary_use_the_same_units(
    repo_handle: RepoHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    from coffer.cli.output import BarProgress, human_bytes

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    bar = BarProgress(enabled=True)
    bar.start(115_300_000, 3, "backup")
    bar.advance(109_400_000)
    try:
        live = bar._bar
        assert live is not None
        task = live.tasks[0]
        shown = " ".join(str(col.render(task)) for col in live.columns if hasattr(col, "render"))
    finally:
        bar.finish()
    assert f"{human_bytes(109_400_000)}/{human_bytes(115_300_000)}" in shown, shown
    assert not re.search(r"\d MB\b", shown), shown  # decimal megabytes nowhere


def test_counts_are_plural_only_when_plural_and_times_carry_their_zone(
    repo_handle: RepoHandle,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COFFER_REPO", str(repo_handle.path))
    monkeypatch.setenv("COFFER_RECOVERY_KEY", repo_handle.key.display())
    src = tmp_path / "src"
    src.mkdir()
    (src / "only.txt").write_text("one file")
    assert run_cli(capsys, "backup", str(src)).code == 0
    out = run_cli(capsys, "snapshots").out
    assert out.rstrip().endswith("\n1 snapshot"), out
    assert re.search(ISO_WITH_ZONE, out) and not re.search(r"\d\d:\d\d:\d\d\.\d", out), out
    out = run_cli(capsys, "restore", "latest", "--target", str(tmp_path / "out")).out
    assert "1 file written" in out and "1 files" not in out, out
    assert re.search(ISO_WITH_ZONE, out), out
    out = run_cli(capsys, "check").out
    assert re.search(r"checked 1 snapshot, \d+ packs?\b", out) and "1 snapshots" not in out, out
