"""Prune: unused packs go, partly used packs are repacked, kept snapshots stay whole."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from coffer.backends.base import Capabilities, ObjectType
from coffer.engine.progress import Progress
from coffer.ops.backup import BackupOptions, backup
from coffer.ops.check import check
from coffer.ops.prune import PruneOptions, PruneRefused, PruneReport, load_plans, mark, prune

from .conftest import (
    RepoHandle,
    digests,
    do_backup,
    pack_names,
    random_files,
    restored_digests,
    write_files,
)


def _forget(handle: RepoHandle, snap_id: str) -> None:
    handle.open().backend.remove(ObjectType.SNAPSHOTS, snap_id)


def _assert_clean(handle: RepoHandle) -> None:
    report = check(handle.open(), read_data=True)
    assert report.ok, report.errors


def test_prune_deletes_only_what_no_snapshot_needs(handle: RepoHandle, tmp_path: Path) -> None:
    src = write_files(tmp_path / "src", random_files(1, 6, 200_000))
    first = do_backup(handle, src)
    for p in list(src.iterdir())[:4]:
        p.unlink()
    write_files(src, random_files(2, 3, 200_000, prefix="g"))
    second = do_backup(handle, src)
    expected = digests(src)
    before = pack_names(handle)
    _forget(handle, first.snapshot.id)

    report = prune(handle.open(), PruneOptions(grace=0))

    after = pack_names(handle)
    assert report.packs_deleted > 0 and report.plans_swept == 1
    assert len(before - after) == report.packs_deleted and len(after) < len(before)
    assert load_plans(handle.open()) == []
    _assert_clean(handle)
    assert restored_digests(handle, second.snapshot.id, tmp_path / "out") == {
        f"src/{k}": v for k, v in expected.items()
    }
    # every remaining blob is used: a second prune finds nothing to do
    again = prune(handle.open(), PruneOptions(grace=0))
    assert again.packs_condemned == 0 and again.packs_deleted == 0


def test_partly_used_packs_are_repacked(handle: RepoHandle, tmp_path: Path) -> None:
    # one backup of many small files → few packs each holding many blobs
    src = write_files(tmp_path / "src", random_files(3, 40, 9_000))
    first = do_backup(handle, src)
    for i, p in enumerate(sorted(src.iterdir())):
        if i % 2:
            p.unlink()
    second = do_backup(handle, src)
    expected = digests(src)
    _forget(handle, first.snapshot.id)
    stored_before = sum(p.stat().st_size for p in (handle.path / "data").rglob("*") if p.is_file())

    report = prune(handle.open(), PruneOptions(grace=0, max_unused=0.05))

    stored_after = sum(p.stat().st_size for p in (handle.path / "data").rglob("*") if p.is_file())
    assert report.packs_repacked > 0 and report.blobs_repacked > 0 and report.packs_written > 0
    assert stored_after < stored_before * 0.7
    _assert_clean(handle)
    got = restored_digests(handle, second.snapshot.id, tmp_path / "out")
    assert got == {f"src/{k}": v for k, v in expected.items()}


def test_high_max_unused_keeps_partly_used_packs(handle: RepoHandle, tmp_path: Path) -> None:
    src = write_files(tmp_path / "src", random_files(3, 40, 9_000))
    first = do_backup(handle, src)
    for i, p in enumerate(sorted(src.iterdir())):
        if i % 2:
            p.unlink()
    do_backup(handle, src)
    _forget(handle, first.snapshot.id)
    report = prune(handle.open(), PruneOptions(grace=0, max_unused=0.9))
    assert report.packs_repacked == 0 and report.blobs_repacked == 0
    _assert_clean(handle)


def test_grace_period_marks_first_and_deletes_later(handle: RepoHandle, tmp_path: Path) -> None:
    src = write_files(tmp_path / "src", random_files(4, 4, 150_000))
    first = do_backup(handle, src)
    shutil.rmtree(src)
    src2 = write_files(tmp_path / "src", random_files(5, 2, 150_000))
    do_backup(handle, src2)
    _forget(handle, first.snapshot.id)
    packs = pack_names(handle)
    now = [1_000_000.0]
    opts = PruneOptions(grace=3600, clock=lambda: now[0])

    marked = prune(handle.open(), opts)
    assert marked.packs_condemned > 0 and marked.packs_deleted == 0
    assert marked.pending_until == 1_000_000.0 + 3600
    assert packs <= pack_names(handle)  # nothing deleted yet (repacking may have added packs)
    report = check(handle.open(), read_data=True)
    assert report.ok and not report.warnings  # condemned packs stay indexed until the sweep

    now[0] += 1800
    early = prune(handle.open(), opts)
    assert early.packs_deleted == 0 and len(load_plans(handle.open())) == 1

    now[0] += 1801
    swept = prune(handle.open(), opts)
    assert swept.packs_deleted == marked.packs_condemned
    assert swept.plans_swept == 1
    _assert_clean(handle)


class _PruneWhenStarted(Progress):
    """Runs the mark phase of prune at the moment a backup has loaded its index."""

    def __init__(self, handle: RepoHandle, clock: list[float]) -> None:
        self.handle = handle
        self.clock = clock
        self.report = PruneReport()

    def start(self, total_bytes: int, total_files: int, label: str = "") -> None:
        opts = PruneOptions(grace=3600, clock=lambda: self.clock[0])
        self.report = prune(self.handle.open(), opts)


def test_backup_running_across_the_mark_keeps_its_blobs(handle: RepoHandle, tmp_path: Path) -> None:
    shared = random_files(6, 3, 120_000, prefix="shared")
    a_src = write_files(tmp_path / "a", shared)
    a_first = do_backup(handle, a_src, host="dev-a")
    for p in a_src.iterdir():
        p.unlink()
    write_files(a_src, random_files(7, 1, 50_000))
    do_backup(handle, a_src, host="dev-a")
    _forget(handle, a_first.snapshot.id)  # the shared blobs are now unused…
    b_src = write_files(tmp_path / "b", shared)  # …but device B holds the same files
    clock = [2_000_000.0]

    hook = _PruneWhenStarted(handle, clock)
    b = backup(handle.open(), [b_src], BackupOptions(hostname="dev-b"), hook)

    assert hook.report.packs_condemned > 0  # the mark happened mid-backup
    assert b.bytes_new == 0  # B deduplicated against blobs in condemned packs
    clock[0] += 7200
    swept = prune(handle.open(), PruneOptions(grace=3600, clock=lambda: clock[0]))
    assert swept.packs_rescued > 0  # the re-check saw B's snapshot and kept its packs
    _assert_clean(handle)
    got = restored_digests(handle, b.snapshot.id, tmp_path / "out")
    assert got == {f"b/{k}": v for k, v in digests(b_src).items()}


def test_backup_after_the_mark_does_not_adopt_condemned_packs(
    handle: RepoHandle, tmp_path: Path
) -> None:
    shared = random_files(8, 2, 120_000)
    src = write_files(tmp_path / "a", shared)
    first = do_backup(handle, src)
    _forget(handle, first.snapshot.id)
    repo = handle.open()
    report = PruneReport()
    plan = mark(repo, PruneOptions(grace=3600), report)
    assert plan is not None and plan.condemned
    assert set(plan.condemned) <= handle.open().index.packs  # readers still see them
    later = do_backup(handle, src)  # same content, started after the mark
    assert later.bytes_new > 0  # stored again, not taken from condemned packs
    swept = prune(handle.open(), PruneOptions(grace=0))
    assert swept.packs_rescued == 0 and swept.packs_deleted == len(plan.condemned)
    _assert_clean(handle)


def test_dry_run_changes_nothing(handle: RepoHandle, tmp_path: Path) -> None:
    src = write_files(tmp_path / "src", random_files(9, 3, 100_000))
    first = do_backup(handle, src)
    _forget(handle, first.snapshot.id)
    tree = sorted(str(p) for p in handle.path.rglob("*") if p.is_file())
    report = prune(handle.open(), PruneOptions(grace=0, dry_run=True))
    assert report.packs_condemned > 0
    assert sorted(str(p) for p in handle.path.rglob("*") if p.is_file()) == tree


def test_append_only_storage_is_refused(handle: RepoHandle) -> None:
    repo = handle.open()
    repo.backend.capabilities = Capabilities(append_only=True)
    with pytest.raises(PruneRefused, match="append-only") as info:
        prune(repo, PruneOptions(grace=0))
    assert info.value.exit_code == 14


class _SweepWhenStarted(Progress):
    """Runs a prune (which sweeps the matured plan) once a backup has loaded its index."""

    def __init__(self, handle: RepoHandle, when: float) -> None:
        self.handle = handle
        self.when = when
        self.report = PruneReport()

    def start(self, total_bytes: int, total_files: int, label: str = "") -> None:
        opts = PruneOptions(grace=3600, clock=lambda: self.when)
        self.report = prune(self.handle.open(), opts)


def test_backup_started_after_the_plan_survives_a_sweep_during_it(
    handle: RepoHandle, tmp_path: Path
) -> None:
    shared = random_files(10, 3, 120_000)
    first = do_backup(handle, write_files(tmp_path / "a", shared))
    _forget(handle, first.snapshot.id)
    plan = mark(handle.open(), PruneOptions(grace=3600, clock=lambda: 5_000.0), PruneReport())
    assert plan is not None
    b_src = write_files(tmp_path / "b", shared)  # the same content, on another device

    hook = _SweepWhenStarted(handle, when=5_000.0 + 7200)
    b = backup(handle.open(), [b_src], BackupOptions(hostname="dev-b"), hook)

    assert hook.report.packs_deleted == len(plan.condemned)  # swept while B was running
    assert b.bytes_new >= 3 * 120_000  # B never relied on the condemned packs
    _assert_clean(handle)
    got = restored_digests(handle, b.snapshot.id, tmp_path / "out")
    assert got == {f"b/{k}": v for k, v in digests(b_src).items()}
