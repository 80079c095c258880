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
