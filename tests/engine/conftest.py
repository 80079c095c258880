"""Fixtures for engine tests: a fresh repository on a real local backend, and a small tree."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from coffer.backends.local import LocalBackend
from coffer.crypto.recovery import RecoveryKey
from coffer.crypto.slots import SlotKind
from coffer.engine.chunker import ChunkerParams
from coffer.engine.repository import RepoParams, Repository

SMALL_PARAMS = RepoParams(
    chunker=ChunkerParams(min_size=16 * 1024, avg_size=64 * 1024, max_size=256 * 1024),
    pack_size=512 * 1024,
)


class RepoHandle:
    def __init__(self, path: Path, key: RecoveryKey) -> None:
        self.path = path
        self.key = key

    def open(self) -> Repository:
        repo = Repository.open(LocalBackend(self.path), SlotKind.RECOVERY, self.key.secret)
        repo.load_index()
        return repo


@pytest.fixture
def repo_handle(tmp_path: Path) -> RepoHandle:
    path = tmp_path / "repo"
    repo = Repository.init(LocalBackend(path), SMALL_PARAMS)
    key = RecoveryKey.generate()
    repo.add_slot(SlotKind.RECOVERY, key.secret)
    return RepoHandle(path, key)


def make_tree(root: Path, seed: int = 0) -> Path:
    """A small source tree: text, random media, nested dirs, a symlink, odd modes."""
    import random

    rng = random.Random(seed)
    (root / "media" / "voice").mkdir(parents=True)
    (root / "notes.txt").write_text("hello chats\n" * 5000)
    (root / "media" / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0" + rng.randbytes(700_000))
    (root / "media" / "voice" / "a.opus").write_bytes(b"OggS" + rng.randbytes(90_000))
    (root / "media" / "voice" / "empty.opus").write_bytes(b"")
    (root / "script.sh").write_text("#!/bin/sh\necho hi\n")
    os.chmod(root / "script.sh", 0o755)
    os.chmod(root / "notes.txt", 0o600)
    os.symlink("media/photo.jpg", root / "latest-photo")
    os.utime(root / "notes.txt", ns=(1_600_000_000_123_456_789, 1_600_000_000_123_456_789))
    return root
