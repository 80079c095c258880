"""Fixtures for lifecycle tests: a fresh repository on a real local backend, sources, helpers."""

from __future__ import annotations

import hashlib
import os
import random
from pathlib import Path

import pytest

from coffer.backends.local import LocalBackend
from coffer.crypto.recovery import RecoveryKey
from coffer.crypto.slots import SlotKind
from coffer.engine.chunker import ChunkerParams
from coffer.engine.repository import RepoParams, Repository
from coffer.ops.backup import BackupOptions, BackupResult, backup
from coffer.ops.restore import restore

SMALL_PARAMS = RepoParams(
    chunker=ChunkerParams(min_size=8 * 1024, avg_size=32 * 1024, max_size=128 * 1024),
    pack_size=256 * 1024,
)


class RepoHandle:
    def __init__(self, path: Path, key: RecoveryKey) -> None:
        self.path = path
        self.key = key

    def open(self) -> Repository:
        repo = Repository.open(LocalBackend(self.path), SlotKind.RECOVERY, self.key.secret)
        repo.load_index()
        return repo

    def env(self, tmp: Path) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            COFFER_REPO=str(self.path),
            COFFER_RECOVERY_KEY=self.key.display(),
            XDG_CACHE_HOME=str(tmp / "cache"),
        )
        return env


def new_repo(path: Path) -> RepoHandle:
    repo = Repository.init(LocalBackend(path), SMALL_PARAMS)
    key = RecoveryKey.generate()
    repo.add_slot(SlotKind.RECOVERY, key.secret)
    return RepoHandle(path, key)


@pytest.fixture
def handle(tmp_path: Path) -> RepoHandle:
    return new_repo(tmp_path / "repo")


def write_files(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return root


def random_files(seed: int, n: int, size: int, prefix: str = "f") -> dict[str, bytes]:
    rng = random.Random(seed)
    return {f"{prefix}{i:03d}.bin": b"OggS" + rng.randbytes(size) for i in range(n)}


def digests(root: Path) -> dict[str, str]:
    """Relative path → SHA-256 of every regular file below ``root``."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.is_symlink():
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def do_backup(handle: RepoHandle, src: Path, host: str = "dev-a") -> BackupResult:
    return backup(handle.open(), [src], BackupOptions(hostname=host))


def restored_digests(handle: RepoHandle, snap_id: str, target: Path) -> dict[str, str]:
    repo = handle.open()
    snap = repo.load_snapshot(snap_id)
    result = restore(repo, snap, target)
    assert result.errors == []
    return digests(target)


def pack_names(handle: RepoHandle) -> set[str]:
    return {p.name for p in (handle.path / "data").rglob("*") if p.is_file()}
