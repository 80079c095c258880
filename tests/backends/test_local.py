"""LocalBackend specifics: layout, permissions, temp files, disk full."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine.tmpfs import tiny_tmpfs

from coffer.backends.base import ObjectType, StorageFull
from coffer.backends.local import LocalBackend


def oid(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def test_layout_and_permissions(tmp_path: Path) -> None:
    b = LocalBackend(tmp_path / "repo")
    d = oid("d")
    b.save(ObjectType.CONFIG, "config", b"c")
    b.save(ObjectType.DATA, d, b"d")
    for kind in (ObjectType.KEYS, ObjectType.INDEX, ObjectType.SNAPSHOTS, ObjectType.LOCKS):
        b.save(kind, oid(kind.value), b"x")
    root = tmp_path / "repo"
    assert (root / "config").read_bytes() == b"c"
    assert (root / "data" / d[:2] / d).read_bytes() == b"d"
    for kind in ("keys", "index", "snapshots", "locks"):
        assert (root / kind / oid(kind)).is_file()
    for path in root.rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))
    assert not [p for p in root.rglob(".tmp-*")]


def test_list_ignores_temp_and_stray_files(tmp_path: Path) -> None:
    b = LocalBackend(tmp_path)
    n = oid("n")
    b.save(ObjectType.INDEX, n, b"abc")
    (tmp_path / "index" / ".tmp-leftover").write_bytes(b"partial")
    (tmp_path / "index" / "README").write_bytes(b"?")
    assert list(b.list(ObjectType.INDEX)) == [(n, 3)]


def test_shortened_file_is_a_short_read(tmp_path: Path) -> None:
    from coffer.backends.base import ShortRead

    b = LocalBackend(tmp_path)
    n = oid("t")
    b.save(ObjectType.DATA, n, bytes(1000))
    path = tmp_path / "data" / n[:2] / n
    os.truncate(path, 500)
    with pytest.raises(ShortRead):
        b.load(ObjectType.DATA, n, 400, 200)


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs; skipped (with the reason) unless we are root and may mount."""
    with tiny_tmpfs(tmp_path / "tiny", "256k") as mnt:
        yield mnt


def test_disk_full_leaves_nothing_visible(tiny_disk: Path) -> None:
    b = LocalBackend(tiny_disk / "repo")
    small = oid("small")
    b.save(ObjectType.DATA, small, os.urandom(1000))
    big = oid("big")
    with pytest.raises(StorageFull, match="no space"):
        b.save(ObjectType.DATA, big, os.urandom(600 * 1024))
    assert not b.exists(ObjectType.DATA, big)
    assert list(b.list(ObjectType.DATA)) == [(small, 1000)]
    assert not list((tiny_disk / "repo").rglob(".tmp-*")), "temp file left behind"
    # Space is free again: the next (smaller) object fits.
    fits = oid("fits")
    b.save(ObjectType.INDEX, fits, os.urandom(64 * 1024))
    assert b.stat(ObjectType.INDEX, fits) == 64 * 1024
