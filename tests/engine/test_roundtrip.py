"""Backup → restore round trips through the engine on a real local backend."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from coffer.cli.verify import compare_trees
from coffer.ops.backup import BackupOptions, backup
from coffer.ops.restore import RestoreOptions, restore

from .conftest import RepoHandle, make_tree


def test_restore_is_byte_identical_with_modes_mtimes_and_symlinks(
    repo_handle: RepoHandle, tmp_path: Path
) -> None:
    src = make_tree(tmp_path / "src")
    repo = repo_handle.open()
    result = backup(repo, [src])
    assert result.files_new == 5 and result.skipped == []
    target = tmp_path / "out"
    res = restore(repo_handle.open(), repo.load_snapshot(result.snapshot.id), target)
    assert res.errors == [] and res.files == 5 and res.symlinks == 1
    assert compare_trees(src, target / "src") == []
    assert os.readlink(target / "src" / "latest-photo") == "media/photo.jpg"
    assert (target / "src" / "media" / "voice" / "empty.opus").read_bytes() == b""
    assert os.stat(target / "src" / "notes.txt").st_mtime_ns == 1_600_000_000_123_456_789


def test_unchanged_second_backup_reads_nothing_and_adds_under_one_percent(
    repo_handle: RepoHandle, tmp_path: Path
) -> None:
    src = make_tree(tmp_path / "src")
    source_size = sum(p.stat().st_size for p in src.rglob("*") if p.is_file())
    backup(repo_handle.open(), [src])
    before = sum(p.stat().st_size for p in repo_handle.path.rglob("*") if p.is_file())
    second = backup(repo_handle.open(), [src])
    after = sum(p.stat().st_size for p in repo_handle.path.rglob("*") if p.is_file())
    assert second.files_unchanged == 5 and second.bytes_read == 0 and second.bytes_stored == 0
    assert (after - before) < 0.01 * source_size


def test_changed_file_stores_only_new_chunks(repo_handle: RepoHandle, tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src")
    big = src / "big.bin"
    big.write_bytes(os.urandom(3_000_000))
    backup(repo_handle.open(), [src])
    with open(big, "ab") as fh:
        fh.write(os.urandom(100_000))
    second = backup(repo_handle.open(), [src])
    assert second.files_changed == 1
    assert second.bytes_new < 700_000  # the tail chunk(s) only, not 3 MB again


def test_restore_one_path(repo_handle: RepoHandle, tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src")
    repo = repo_handle.open()
    snap = backup(repo, [src]).snapshot
    target = tmp_path / "out"
    res = restore(repo_handle.open(), snap, target, path="src/media/voice")
    assert res.files == 2  # at its place below the target, as a full restore puts it
    voice = target / "src" / "media" / "voice"
    assert (voice / "a.opus").read_bytes() == (src / "media/voice/a.opus").read_bytes()
    assert not (target / "src" / "notes.txt").exists() and not (target / "voice").exists()


def test_duplicate_content_is_stored_once(repo_handle: RepoHandle, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    data = os.urandom(1_500_000)
    for i in range(4):
        (src / f"copy{i}.bin").write_bytes(data)
    result = backup(repo_handle.open(), [src], BackupOptions())
    assert result.bytes_new == len(data)


def test_dedup_across_sources_and_compression_of_text(
    repo_handle: RepoHandle, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "log.txt").write_text("the same line of chat text\n" * 100_000)
    result = backup(repo_handle.open(), [src])
    assert result.bytes_stored < result.bytes_read / 20


def test_backup_refuses_to_commit_a_snapshot_whose_packs_vanished(
    repo_handle: RepoHandle, tmp_path: Path
) -> None:
    """A pack deleted while a backup runs (a prune elsewhere) never ends up referenced."""
    import pytest

    from coffer.engine.progress import Progress
    from coffer.errors import RepositoryError

    src = make_tree(tmp_path / "src")
    backup(repo_handle.open(), [src])
    packs = [p for p in (repo_handle.path / "data").rglob("*") if p.is_file()]

    class DeleteAPackMidway(Progress):
        def file_done(self, path: str) -> None:
            for p in packs:
                p.unlink(missing_ok=True)

    repo = repo_handle.open()
    before = repo.snapshot_ids()
    with pytest.raises(RepositoryError, match="removed while it ran"):
        backup(repo, [src], BackupOptions(use_parent=False), DeleteAPackMidway())
    assert repo_handle.open().snapshot_ids() == before


def test_file_vanishing_mid_backup_is_skipped_and_recorded(
    repo_handle: RepoHandle, tmp_path: Path
) -> None:
    from coffer.engine.progress import Progress

    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("first")
    (src / "b.txt").write_text("deleted while the backup runs")
    (src / "c.txt").write_text("third")

    class DeleteTheNextFile(Progress):
        def file_done(self, path: str) -> None:
            if path.endswith("a.txt"):
                (src / "b.txt").unlink()

    result = backup(repo_handle.open(), [src], BackupOptions(), DeleteTheNextFile())
    assert [s["path"] for s in result.skipped] == [str(src / "b.txt")]
    assert [n.name for n in result.snapshot.tree[0].children] == ["a.txt", "c.txt"]
    saved = repo_handle.open().load_snapshot(result.snapshot.id)
    assert saved.skipped == result.skipped


@pytest.mark.parametrize("db_mode", ["pages", "logical"])
def test_broken_database_is_stored_as_plain_bytes(
    repo_handle: RepoHandle, tmp_path: Path, db_mode: str
) -> None:
    from coffer.engine.progress import CollectingProgress

    src = tmp_path / "src"
    src.mkdir()
    broken = b"SQLite format 3\x00" + os.urandom(50_000)  # SQLite's header, then garbage
    (src / "broken.db").write_bytes(broken)
    (src / "ok.txt").write_text("fine")
    progress = CollectingProgress()
    result = backup(repo_handle.open(), [src], BackupOptions(db_mode=db_mode), progress)
    assert result.skipped == [] and any("stored as a file" in w for w in progress.warnings)
    restore(repo_handle.open(), result.snapshot, tmp_path / "out")
    assert (tmp_path / "out/src/broken.db").read_bytes() == broken


def test_long_unicode_names_restore(repo_handle: RepoHandle, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    name = "聊" * 80 + ".txt"  # 244 bytes: legal, but name + a suffix would not be
    (src / name).write_text("hello")
    result = backup(repo_handle.open(), [src])
    res = restore(repo_handle.open(), result.snapshot, tmp_path / "out")
    assert res.errors == [] and (tmp_path / "out/src" / name).read_text() == "hello"


def test_unwritable_target_entry_is_reported_and_leaves_nothing_partial(
    repo_handle: RepoHandle, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("a")
    (src / "b.txt").write_text("b")
    result = backup(repo_handle.open(), [src])
    target = tmp_path / "out"
    (target / "src" / "a.txt").mkdir(parents=True)
    (target / "src" / "a.txt" / "keep").write_text("user data")  # a non-empty folder in the way
    res = restore(
        repo_handle.open(), result.snapshot, target, options=RestoreOptions(overwrite="always")
    )
    assert [(e["path"], e["kind"]) for e in res.errors] == [("src/a.txt", "unwritable")]
    assert (target / "src/b.txt").read_text() == "b"
    assert (target / "src/a.txt/keep").read_text() == "user data"
    assert not list(target.rglob("*coffer-partial*"))


def test_backup_heals_an_index_that_names_deleted_packs(
    repo_handle: RepoHandle, tmp_path: Path
) -> None:
    src = make_tree(tmp_path / "src")
    backup(repo_handle.open(), [src])
    for pack in [p for p in (repo_handle.path / "data").rglob("*") if p.is_file()]:
        pack.unlink()  # as if a prune had deleted them under a very long backup
    healed = backup(repo_handle.open(), [src], BackupOptions(use_parent=False))
    assert healed.bytes_new > 0  # the blobs were uploaded again, not deduplicated away
    res = restore(repo_handle.open(), healed.snapshot, tmp_path / "out")
    assert res.errors == []
    assert compare_trees(src, tmp_path / "out" / "src") == []
