"""Prune SIGKILLed before each of its storage mutations → check passes, a rerun completes."""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from coffer.backends.base import ObjectType
from coffer.ops.check import check
from coffer.ops.prune import PruneOptions, load_plans, prune

from .conftest import RepoHandle, digests, do_backup, random_files, restored_digests, write_files

KILLER = Path(__file__).with_name("killer.py")


def _prepared(handle: RepoHandle, tmp_path: Path) -> tuple[str, dict[str, str]]:
    """Two snapshots, the first forgotten: prune has packs to delete and packs to repack."""
    src = write_files(tmp_path / "src", random_files(11, 30, 12_000))
    first = do_backup(handle, src)
    for i, p in enumerate(sorted(src.iterdir())):
        if i % 3:
            p.unlink()
    write_files(src, random_files(12, 2, 300_000, prefix="big"))
    second = do_backup(handle, src)
    handle.open().backend.remove(ObjectType.SNAPSHOTS, first.snapshot.id)
    return second.snapshot.id, {f"src/{k}": v for k, v in digests(src).items()}


def _run_killer(handle: RepoHandle, tmp_path: Path, k: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(KILLER), str(handle.path), str(k), "0.05"],
        env=handle.env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_prune_killed_at_every_kind_of_point(handle: RepoHandle, tmp_path: Path) -> None:
    snap_id, expected = _prepared(handle, tmp_path)
    pristine = tmp_path / "pristine"
    shutil.copytree(handle.path, pristine)
    done = _run_killer(handle, tmp_path, 10_000)  # no kill: count the mutations
    assert done.returncode == 0, done.stderr
    total = int(done.stdout.strip())
    assert total >= 6  # lock, packs, index, plan, deletions, plan removal, unlock
    rng = random.Random(5)
    every = range(1, total + 1)
    points = every if total <= 14 else sorted({1, 2, total, *rng.sample(every, 10)})
    for k in points:
        shutil.rmtree(handle.path)
        shutil.copytree(pristine, handle.path)
        killed = _run_killer(handle, tmp_path, k)
        assert killed.returncode == -signal.SIGKILL, (k, killed.stderr)
        report = check(handle.open(), read_data=True)
        assert report.ok, (k, report.errors)
        rerun = prune(handle.open(), PruneOptions(grace=0))
        assert load_plans(handle.open()) == [], k
        report = check(handle.open(), read_data=True)
        assert report.ok and not report.warnings, (k, rerun, report.errors, report.warnings)
        out = tmp_path / f"out-{k}"
        assert restored_digests(handle, snap_id, out) == expected, k
