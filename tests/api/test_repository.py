"""``coffer.Repository``: the Python API end to end, on real storage and a real vault."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

import coffer
from coffer.backends.local import LocalBackend
from coffer.crypto.recovery import RecoveryKey
from coffer.crypto.slots import SlotKind
from coffer.engine import repository as engine
from coffer.engine.locks import list_locks, locked
from coffer.vault.embedded import EmbeddedVault

from .conftest import make_chat_store


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_init_backup_snapshots_restore_check(store: Path, tmp_path: Path) -> None:
    repo, key = coffer.Repository.init(tmp_path / "repo")
    assert key is not None and len(key.replace("-", "").replace(" ", "")) == 64
    with repo:
        summary = repo.backup([store], tags=["daily"], exclude=["*.tmp"])
        assert summary.snapshot_id and not summary.dry_run
        assert summary.files_new == 3 and summary.files_changed == 0  # the database is new too
        assert summary.bytes_new > 0 and summary.skipped == ()
        [snap] = repo.snapshots()
        assert snap.id == summary.snapshot_id and snap.tags == ("daily",)
        assert snap.paths == (str(store),) and snap.time.tzinfo is not None
        restored = repo.restore(tmp_path / "out", "latest")
        assert restored.snapshot_id == snap.id and restored.files == 3
        report = repo.check(read_data=True)
        assert report.ok and report.packs_read == report.packs > 0
    expected = {k: v for k, v in _files(store).items() if not k.endswith(".tmp")}
    got = _files(tmp_path / "out" / "chat-store")
    assert got.keys() == expected.keys()
    assert got["notes.txt"] == expected["notes.txt"]
    assert got["media/photo.jpg"] == expected["media/photo.jpg"]
    rows = sqlite3.connect(tmp_path / "out/chat-store/msgstore.db").execute(
        "SELECT count(*) FROM messages"
    )
    assert rows.fetchone() == (2000,)
    again = coffer.Repository.open(tmp_path / "repo", recovery_key=key)
    assert again.id == repo.id and [s.id for s in again.snapshots()] == [snap.id]
    again.close()


class _LockSpy(coffer.Progress):
    """Records the repository's locks the first time the operation reports progress."""

    def __init__(self, backend: LocalBackend, key: str) -> None:
        self.backend, self.key, self.seen = backend, key, None

    def advance(self, nbytes: int) -> None:
        if self.seen is None:
            inner = engine.Repository.open(
                self.backend, SlotKind.RECOVERY, RecoveryKey.parse(self.key).secret
            )
            self.seen = [(lk.exclusive, lk.pid) for lk in list_locks(inner)]


def test_backup_restore_and_check_hold_the_cli_s_shared_lock(store: Path, tmp_path: Path) -> None:
    repo, key = coffer.Repository.init(tmp_path / "repo")
    assert key is not None
    backend = LocalBackend(tmp_path / "repo")
    for run in (
        lambda spy: repo.backup([store], progress=spy),
        lambda spy: repo.restore(tmp_path / "out", progress=spy),
        lambda spy: repo.check(read_data=True, progress=spy),
    ):
        spy = _LockSpy(backend, key)
        run(spy)
        assert spy.seen == [(False, os.getpid())]
    assert list(backend.list(coffer_locks())) == []  # released afterwards


def coffer_locks():  # the object type of lock files
    from coffer.backends.base import ObjectType

    return ObjectType.LOCKS


@pytest.mark.parametrize("operation", ["backup", "restore", "check"])
def test_an_exclusive_lock_elsewhere_stops_the_operation(
    operation: str, store: Path, tmp_path: Path
) -> None:
    repo, key = coffer.Repository.init(tmp_path / "repo")
    assert key is not None
    repo.backup([store])
    other = engine.Repository.open(
        LocalBackend(tmp_path / "repo"), SlotKind.RECOVERY, RecoveryKey.parse(key).secret
    )
    calls = {
        "backup": lambda: repo.backup([store], force=True),
        "restore": lambda: repo.restore(tmp_path / "out"),
        "check": lambda: repo.check(),
    }
    with locked(other, exclusive=True):  # a prune on another device
        with pytest.raises(coffer.RepositoryLocked) as caught:
            calls[operation]()
    assert caught.value.exit_code == 13
    assert len(repo.snapshots()) == 1 and not (tmp_path / "out").exists()


def test_a_dry_run_writes_nothing(store: Path, tmp_path: Path) -> None:
    repo, _key = coffer.Repository.init(tmp_path / "repo")
    before = sorted(p.name for p in (tmp_path / "repo").rglob("*"))
    summary = repo.backup([store], dry_run=True)
    assert summary.dry_run and summary.snapshot_id is None and summary.files_new == 4
    assert sorted(p.name for p in (tmp_path / "repo").rglob("*")) == before
    assert repo.backup([store]).files_new == 4  # the dry run's index did not leak


def test_filters_choose_what_latest_means(store: Path, tmp_path: Path) -> None:
    repo, _key = coffer.Repository.init(tmp_path / "repo")
    phone = repo.backup([store], host="phone", tags=["daily", "auto"]).snapshot_id
    laptop = repo.backup([store], host="laptop", force=True).snapshot_id
    assert [s.id for s in repo.snapshots(host="phone")] == [phone]
    assert [s.id for s in repo.snapshots(tags=["daily", "auto"])] == [phone]
    assert repo.snapshots(tags=["daily", "weekly"]) == []
    assert [s.id for s in repo.snapshots(paths=[str(store)])] == [phone, laptop]
    assert repo.restore(tmp_path / "a", host="phone").snapshot_id == phone
    assert repo.restore(tmp_path / "b").snapshot_id == laptop
    with pytest.raises(coffer.SnapshotNotFound, match="--host tablet"):
        repo.restore(tmp_path / "c", host="tablet")
    assert repo.restore(tmp_path / "d", phone[:8]).snapshot_id == phone


def test_unreadable_files_raise_partial_backup_with_the_summary(
    store: Path, tmp_path: Path
) -> None:
    os.mkfifo(store / "media" / "pipe")
    repo, _key = coffer.Repository.init(tmp_path / "repo")
    with pytest.raises(coffer.PartialBackup) as caught:
        repo.backup([store])
    summary = caught.value.result
    assert isinstance(summary, coffer.BackupSummary) and summary.snapshot_id
    assert [s.path for s in summary.skipped] == [str(store / "media" / "pipe")]
    assert [s.id for s in repo.snapshots()] == [summary.snapshot_id]


def test_errors_are_the_documented_classes(store: Path, tmp_path: Path) -> None:
    with pytest.raises(coffer.RepositoryError) as no_repo:
        coffer.Repository.open(tmp_path / "nowhere", recovery_key=RecoveryKey.generate().display())
    assert no_repo.value.exit_code == 10
    repo, key = coffer.Repository.init(tmp_path / "repo")
    assert key is not None
    with pytest.raises(coffer.RepositoryExists):
        coffer.Repository.init(tmp_path / "repo")
    with pytest.raises(coffer.WrongKey):
        coffer.Repository.open(tmp_path / "repo", recovery_key=RecoveryKey.generate().display())
    # a different character even after normalising (upper-case; I, L → 1; O → 0)
    typo = key[:-1] + ("B" if key[-1].upper() != "B" else "C")
    with pytest.raises(coffer.WrongKey, match=r"typo|checksum"):
        coffer.Repository.open(tmp_path / "nowhere-either", recovery_key=typo)
    with pytest.raises(coffer.NoSecret):
        coffer.Repository.open(tmp_path / "repo")
    with pytest.raises(coffer.SnapshotNotFound):
        repo.restore(tmp_path / "out")
    with pytest.raises(coffer.MissingExtra if _absent("boto3") else coffer.BackendError):
        coffer.Repository.open("s3:http://127.0.0.1:9/bucket", recovery_key=key)
    for cls in (coffer.WrongKey, coffer.RepositoryError, coffer.IntegrityError):
        assert issubclass(cls, coffer.CofferError)


def _absent(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is None


def test_the_password_route(store: Path, tmp_path: Path, vault: EmbeddedVault) -> None:
    where = {"vault": vault.url, "account": "lee@example.net"}
    with pytest.raises(coffer.WeakPassword):
        coffer.Repository.init(tmp_path / "repo", password="password1", **where)
    assert not (tmp_path / "repo").exists()  # refused before anything was written
    password = "violet kettle orbit marsh 59"
    repo, key = coffer.Repository.init(tmp_path / "repo", password=password, **where)
    assert key is None
    snap = repo.backup([store]).snapshot_id
    repo.close()
    with coffer.Repository.open(tmp_path / "repo", password=password) as reopened:
        assert [s.id for s in reopened.snapshots()] == [snap]  # the slot knows its vault
    with pytest.raises(coffer.PasswordRejected) as wrong:
        coffer.Repository.open(tmp_path / "repo", password="amber falcon ripple quarry 83")
    assert wrong.value.attempts_left == 9 and wrong.value.exit_code == 11
    both, key = coffer.Repository.init(
        tmp_path / "both", password=password, recovery_key=True, vault=vault.url,
        account="kim@example.net",
    )  # fmt: skip
    assert key is not None
    both.close()
    assert coffer.Repository.open(tmp_path / "both", recovery_key=key).id == both.id


def test_a_second_store_is_independent(tmp_path: Path) -> None:
    """Two repositories opened in one process do not share state (index, locks)."""
    a_store = make_chat_store(tmp_path / "a", messages=50)
    b_store = make_chat_store(tmp_path / "b", messages=60)
    a, _ = coffer.Repository.init(tmp_path / "ra")
    b, _ = coffer.Repository.init(tmp_path / "rb")
    assert a.backup([a_store]).files_new == 4 and b.backup([b_store]).files_new == 4
    assert a.id != b.id and len(a.snapshots()) == len(b.snapshots()) == 1


def test_restore_keeps_existing_entries_unless_told_and_reports_what_it_could_not_write(
    store: Path, tmp_path: Path
) -> None:
    repo, _key = coffer.Repository.init(tmp_path / "repo")
    repo.backup([store])
    out = tmp_path / "out"
    assert repo.restore(out).files == 4
    notes = out / "chat-store" / "notes.txt"
    notes.write_text("edited after the restore")
    assert repo.restore(out).files == 0 and notes.read_text() == "edited after the restore"
    assert repo.restore(out, overwrite="always").files >= 1
    assert notes.read_bytes() == (store / "notes.txt").read_bytes()
    notes.unlink()
    notes.mkdir()  # a folder where the snapshot has a file
    (notes / "inside").write_text("x")
    with pytest.raises(coffer.RestoreIncomplete) as caught:
        repo.restore(out, overwrite="always")
    summary = caught.value.result
    assert isinstance(summary, coffer.RestoreSummary) and caught.value.exit_code == 17
    assert [e.path for e in summary.errors] == ["chat-store/notes.txt"]
