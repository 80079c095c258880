"""Killed backups and a full disk leave a repository that checks clean and can continue."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from coffer.backends.local import LocalBackend
from coffer.cli.verify import compare_trees
from coffer.crypto.recovery import RecoveryKey
from coffer.crypto.slots import SlotKind
from coffer.engine.repository import Repository
from coffer.ops.backup import backup
from coffer.ops.check import check
from coffer.ops.restore import restore

from .conftest import SMALL_PARAMS, RepoHandle
from .tmpfs import tiny_tmpfs


def _source(root: Path, nfiles: int, size: int) -> Path:
    root.mkdir()
    rng = random.Random(7)
    for i in range(nfiles):
        (root / f"voice-{i:03d}.opus").write_bytes(b"OggS" + rng.randbytes(size))
    return root


def _cli_env(handle: RepoHandle) -> dict[str, str]:
    env = dict(os.environ)
    env.update(COFFER_REPO=str(handle.path), COFFER_RECOVERY_KEY=handle.key.display())
    return env


def _packs(repo_dir: Path) -> int:
    return sum(1 for p in (repo_dir / "data").rglob("*") if p.is_file() and "tmp" not in p.name)


def _kill_at(proc: subprocess.Popen[bytes], repo_dir: Path, new_packs: int) -> bool:
    """SIGKILL ``proc`` once it holds its lock (0) or stored ``new_packs`` more packs."""
    start = _packs(repo_dir)
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        started = any((repo_dir / "locks").glob("*"))
        if started and _packs(repo_dir) >= start + new_packs:
            proc.send_signal(signal.SIGKILL)
            return True
        time.sleep(0.002)
    return False


@pytest.mark.slow
def test_sigkill_at_random_points_then_check_and_resume(
    repo_handle: RepoHandle, tmp_path: Path
) -> None:
    src = _source(tmp_path / "src", 40, 1_000_000)
    source_size = 40 * 1_000_004
    rng = random.Random(1)
    env = _cli_env(repo_handle)
    kill_points = []
    for attempt in range(14):
        for j in range(4):  # every attempt has new data to store
            (src / f"new-{attempt}-{j}.opus").write_bytes(b"OggS" + rng.randbytes(1_000_000))
        source_size += 4 * 1_000_004
        proc = subprocess.Popen(
            [sys.executable, "-m", "coffer", "backup", "-q", "--force", str(src)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        point = rng.randint(0, 5)
        if _kill_at(proc, repo_handle.path, point):
            kill_points.append(point)
        _, err = proc.communicate()
        assert proc.returncode in (0, -signal.SIGKILL), err
        report = check(repo_handle.open())
        assert report.ok, report.errors
        for lock in (repo_handle.path / "locks").glob("*"):
            lock.unlink()  # a killed process's lock; same host, dead PID: stale anyway
    assert len(kill_points) >= 10, kill_points
    assert _packs(repo_handle.path) > 0, "the killed runs stored some packs"
    final = backup(repo_handle.open(), [src])
    assert final.bytes_new < source_size  # packs of the killed runs were reused
    report = check(repo_handle.open(), read_data=True)
    assert report.ok, report.errors
    restore(repo_handle.open(), final.snapshot, tmp_path / "out")
    assert compare_trees(src, tmp_path / "out" / "src") == []


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    with tiny_tmpfs(tmp_path / "tiny", "3m") as mnt:
        yield mnt


def test_disk_full_is_a_clear_error_and_the_repository_stays_usable(
    tiny_disk: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo_dir = tiny_disk / "repo"
    repo = Repository.init(LocalBackend(repo_dir), SMALL_PARAMS)
    key = RecoveryKey.generate()
    repo.add_slot(SlotKind.RECOVERY, key.secret)
    small = _source(tmp_path / "small", 2, 100_000)
    big = _source(tmp_path / "big", 10, 600_000)
    handle = RepoHandle(repo_dir, key)
    backup(handle.open(), [small])
    from coffer.cli.main import main

    os.environ["COFFER_RECOVERY_KEY"] = key.display()
    try:
        code = main(["backup", "-q", "--repo", str(repo_dir), str(big)])
    finally:
        del os.environ["COFFER_RECOVERY_KEY"]
    err = capsys.readouterr().err
    assert code == 14 and "full" in err.lower() and err.count("\n") == 1
    assert not [p for p in repo_dir.rglob(".tmp-*")]
    report = check(handle.open(), read_data=True)
    assert report.ok, report.errors
    snaps = handle.open().snapshot_ids()
    assert len(snaps) == 1  # the failed run wrote no snapshot
