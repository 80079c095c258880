"""Repair: a lost index is rebuilt from pack headers; snapshots lose only what is gone."""

from __future__ import annotations

from pathlib import Path

from coffer.backends.base import ObjectType
from coffer.ops.check import check
from coffer.ops.repair import REPAIRED_TAG, repair_index, repair_snapshots

from .conftest import RepoHandle, digests, do_backup, random_files, restored_digests, write_files


def test_whole_index_deleted_then_repaired_restores_byte_identical(
    handle: RepoHandle, tmp_path: Path
) -> None:
    src = write_files(tmp_path / "src", random_files(21, 8, 90_000))
    (src / "notes.txt").write_text("chat log\n" * 20_000)
    snap = do_backup(handle, src).snapshot.id
    for p in (handle.path / "index").iterdir():
        p.unlink()
    broken = check(handle.open())
    assert not broken.ok  # snapshots reference blobs no index lists

    report = repair_index(handle.open())

    assert report.packs == len(list((handle.path / "data").rglob("*/*")))
    assert report.damaged == [] and len(list((handle.path / "index").iterdir())) == 1
    assert check(handle.open(), read_data=True).ok
    got = restored_digests(handle, snap, tmp_path / "out")
    assert got == {f"src/{k}": v for k, v in digests(src).items()}


def test_repair_index_supersedes_and_removes_old_objects(
    handle: RepoHandle, tmp_path: Path
) -> None:
    src = write_files(tmp_path / "src", random_files(22, 2, 50_000))
    do_backup(handle, src)
    write_files(src, random_files(23, 2, 50_000, prefix="g"))
    do_backup(handle, src)
    old = {p.name for p in (handle.path / "index").iterdir()}
    assert len(old) >= 2
    report = repair_index(handle.open())
    now = {p.name for p in (handle.path / "index").iterdir()}
    assert now == {report.index_written} and report.index_deleted == len(old)
    assert check(handle.open(), read_data=True).ok


def test_repair_snapshots_removes_files_with_missing_data(
    handle: RepoHandle, tmp_path: Path
) -> None:
    files = random_files(24, 6, 300_000)  # ≥ one pack per file at 256 KiB packs
    src = write_files(tmp_path / "src", files)
    original = do_backup(handle, src).snapshot.id
    repo = handle.open()
    snap = repo.load_snapshot(original)
    victim = next(n for n in snap.tree[0].children if n.name == "f002.bin")
    lost_pack = repo.index.get(victim.content[0])
    assert lost_pack is not None
    repo.backend.remove(ObjectType.DATA, lost_pack.pack_id)
    repair_index(handle.open())  # the index must not list the lost pack any more
    assert not check(handle.open()).ok

    report = repair_snapshots(handle.open())

    assert len(report.repaired) == 1
    fixed = report.repaired[0]
    assert fixed.original == original and "src/f002.bin" in fixed.removed
    repo = handle.open()
    assert repo.snapshot_ids() == [fixed.replacement]
    new = repo.load_snapshot(fixed.replacement)
    assert REPAIRED_TAG in new.tags and new.summary["repaired"]["original"] == original
    assert {s["path"] for s in new.skipped} == set(fixed.removed)
    assert check(handle.open(), read_data=True).ok
    got = restored_digests(handle, fixed.replacement, tmp_path / "out")
    want = {f"src/{k}": v for k, v in digests(src).items() if f"src/{k}" not in fixed.removed}
    assert got == want and len(got) >= 4


def test_repair_snapshots_dry_run_and_intact_repository(handle: RepoHandle, tmp_path: Path) -> None:
    src = write_files(tmp_path / "src", random_files(25, 2, 40_000))
    snap = do_backup(handle, src).snapshot.id
    report = repair_snapshots(handle.open(), dry_run=True)
    assert report.checked == 1 and report.repaired == []
    assert handle.open().snapshot_ids() == [snap]
