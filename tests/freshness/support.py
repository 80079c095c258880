"""Helpers for the freshness tests: devices (each its own state folder), repository copies."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from engine.cli_support import Run, run_cli


@dataclass
class Device:
    """One device: its own state folder (device records) and its own config folder."""

    name: str
    home: Path

    def use(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("COFFER_STATE_DIR", str(self.home / "state"))
        monkeypatch.setenv("XDG_CONFIG_HOME", str(self.home / "config"))


def device(tmp_path: Path, name: str) -> Device:
    home = tmp_path / f"device-{name}"
    (home / "config").mkdir(parents=True, exist_ok=True)
    return Device(name, home)


VECTORS = Path(__file__).resolve().parent.parent / "vectors"


def golden_v1(dest: Path) -> dict[str, str]:
    """A copy of the golden v1 repository at ``dest``; returns its metadata (recovery key,
    snapshot ID)."""
    shutil.copytree(VECTORS / "golden-repo-v1", dest)
    return dict(json.loads((VECTORS / "golden-repo-v1.json").read_text()))


def init_repo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[Path, Path]:
    """A new repository at ``tmp_path/repo`` opened with its recovery key, on one device (its
    own state and config folders); returns (repository, an empty source folder)."""
    repo, key = tmp_path / "repo", tmp_path / "key.txt"
    monkeypatch.setenv("COFFER_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("COFFER_REPO", str(repo))
    assert run_cli(capsys, "init", "--save-recovery-key", str(key)).code == 0
    monkeypatch.setenv("COFFER_RECOVERY_KEY", key.read_text().strip())
    src = tmp_path / "chats"
    src.mkdir()
    return repo, src


def snapshot_copy(repo: Path, dest: Path) -> Path:
    """What the provider keeps aside: a full copy of the repository as it is now."""
    shutil.copytree(repo, dest)
    return dest


def put_back(old: Path, repo: Path) -> None:
    """The provider serves the old copy instead of the current repository."""
    shutil.rmtree(repo)
    shutil.copytree(old, repo)


def backup(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    r = run_cli(capsys, "backup", "--json", *args)
    assert r.code == 0, r.err
    return str(r.summary()["snapshot"])


def snapshot_ids(capsys: pytest.CaptureFixture[str], *args: str) -> list[str]:
    r = run_cli(capsys, "snapshots", "--json", *args)
    assert r.code == 0, r.err
    return [s["id"] for s in json.loads(r.out)]


def refused(r: Run) -> bool:
    """Exit 20 with the documented first words, and no traceback."""
    return (
        r.code == 20
        and "storage shows an older state than this device or the witness has seen" in r.err
        and "Traceback" not in r.err
    )
