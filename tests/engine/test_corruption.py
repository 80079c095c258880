"""One flipped byte in any stored object is found by check and never restored as plaintext."""

from __future__ import annotations

from pathlib import Path

import pytest

from coffer.backends.base import ObjectType
from coffer.backends.local import LocalBackend
from coffer.crypto.slots import SlotKind
from coffer.engine.repository import Repository
from coffer.errors import CofferError, IntegrityError
from coffer.ops.backup import backup
from coffer.ops.check import check
from coffer.ops.restore import restore

from .conftest import RepoHandle, make_tree


def _object_path(repo_dir: Path, kind: ObjectType) -> Path:
    if kind is ObjectType.CONFIG:
        return repo_dir / "config"
    files = sorted(p for p in (repo_dir / kind.value).rglob("*") if p.is_file())
    assert files, kind
    return max(files, key=lambda p: p.stat().st_size)


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset % len(data)] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.fixture
def populated(repo_handle: RepoHandle, tmp_path: Path) -> tuple[RepoHandle, Path]:
    src = make_tree(tmp_path / "src")
    backup(repo_handle.open(), [src])
    return repo_handle, src


@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_flipped_pack_byte_is_named_by_check(
    populated: tuple[RepoHandle, Path], where: str
) -> None:
    handle, _ = populated
    pack = _object_path(handle.path, ObjectType.DATA)
    size = pack.stat().st_size
    _flip(pack, {"start": 10, "middle": size // 2, "end": size - 20}[where])
    report = check(handle.open(), read_data=True)
    assert not report.ok
    assert any(pack.name in e for e in report.errors), report.errors


@pytest.mark.parametrize("kind", [ObjectType.INDEX, ObjectType.SNAPSHOTS, ObjectType.KEYS])
def test_flipped_metadata_byte_is_named(
    populated: tuple[RepoHandle, Path], kind: ObjectType
) -> None:
    handle, _ = populated
    obj = _object_path(handle.path, kind)
    _flip(obj, obj.stat().st_size // 2)
    if kind is ObjectType.KEYS:
        with pytest.raises(IntegrityError, match=obj.name):
            handle.open()
        return
    report = check(handle.open(), read_data=True)
    assert any(f"{kind.value}/{obj.name}" in e for e in report.errors), report.errors


def test_flipped_config_byte_is_reported(populated: tuple[RepoHandle, Path]) -> None:
    handle, _ = populated
    cfg = handle.path / "config"
    _flip(cfg, cfg.stat().st_size - 5)
    with pytest.raises(IntegrityError, match="config"):
        handle.open()
    _flip(cfg, cfg.stat().st_size - 5)
    _flip(cfg, 2)  # the magic number
    with pytest.raises(CofferError, match="not a Coffer repository"):
        Repository.open(LocalBackend(handle.path), SlotKind.RECOVERY, handle.key.secret)


def test_restore_skips_the_damaged_file_and_restores_the_rest(
    populated: tuple[RepoHandle, Path], tmp_path: Path
) -> None:
    handle, src = populated
    repo = handle.open()
    snap = repo.load_snapshot(repo.snapshot_ids()[0])
    from coffer.engine.snapshot import find

    photo = find(snap.tree, "src/media/photo.jpg")
    assert photo is not None
    loc = repo.index.get(photo.content[0])
    assert loc is not None
    pack = next((handle.path / "data").rglob(loc.pack_id))
    _flip(pack, loc.offset + loc.length // 2)
    target = tmp_path / "out"
    result = restore(handle.open(), snap, target)
    assert [e["path"] for e in result.errors] == ["src/media/photo.jpg"]
    assert not (target / "src/media/photo.jpg").exists()
    assert not list(target.rglob("*coffer-partial*"))
    assert (target / "src/notes.txt").read_bytes() == (src / "notes.txt").read_bytes()
    with pytest.raises(IntegrityError):
        restore(handle.open(), snap, tmp_path / "strict", strict=True)


def test_damaged_index_does_not_make_data_unreachable(
    populated: tuple[RepoHandle, Path], tmp_path: Path
) -> None:
    handle, _src = populated
    for obj in (handle.path / "index").iterdir():
        _flip(obj, 40)
    repo = handle.open()
    snap = repo.load_snapshot(repo.snapshot_ids()[0])
    result = restore(repo, snap, tmp_path / "out")
    assert result.errors == [] and result.files == 5
