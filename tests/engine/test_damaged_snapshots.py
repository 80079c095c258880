"""One damaged or injected object in ``snapshots/`` blocks neither listing nor ``latest``, and a
damaged object that may be the newest makes ``latest`` refuse instead of silently rolling back."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from coffer.backends.memory import MemoryBackend
from coffer.crypto.recovery import RecoveryKey
from coffer.crypto.slots import SlotKind
from coffer.engine.repository import Repository
from coffer.ops.backup import BackupOptions, backup

from .cli_support import run_cli
from .conftest import SMALL_PARAMS, RepoHandle


def _two_snapshots(handle: RepoHandle, tmp_path: Path) -> tuple[str, str]:
    src = tmp_path / "chat-store"
    src.mkdir()
    (src / "a.txt").write_text("first day")
    old = backup(handle.open(), [src]).snapshot.id
    (src / "a.txt").write_text("second day, more messages")
    new = backup(handle.open(), [src]).snapshot.id
    return old, new


def _damage(handle: RepoHandle, oid: str, *, age: float) -> Path:
    """Flip a byte of ``snapshots/oid`` and date its file ``age`` seconds back."""
    path = handle.path / "snapshots" / oid
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x40
    path.write_bytes(bytes(data))
    stamp = time.time() - age
    os.utime(path, (stamp, stamp))
    return path


@pytest.fixture
def cli_env(repo_handle: RepoHandle, monkeypatch: pytest.MonkeyPatch) -> RepoHandle:
    monkeypatch.setenv("COFFER_REPO", str(repo_handle.path))
    monkeypatch.setenv("COFFER_RECOVERY_KEY", repo_handle.key.display())
    return repo_handle


def test_a_damaged_old_snapshot_blocks_neither_snapshots_nor_ls_nor_restore_latest(
    cli_env: RepoHandle, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = _two_snapshots(cli_env, tmp_path)
    _damage(cli_env, old, age=3600)
    r = run_cli(capsys, "snapshots")
    assert r.code == 0, r.err
    assert new[:8] in r.out and old[:8] not in r.out and "1 snapshot, 1 damaged object" in r.out
    assert f"snapshots/{old}" in r.err and "Traceback" not in r.err
    r = run_cli(capsys, "ls", "latest")
    assert r.code == 0 and "chat-store/a.txt" in r.out, r.err
    assert f"snapshots/{old}" in r.err  # named, not silently skipped
    r = run_cli(capsys, "restore", "latest", "--target", str(tmp_path / "out"))
    assert r.code == 0, r.err
    assert (tmp_path / "out/chat-store/a.txt").read_text() == "second day, more messages"


def test_an_injected_junk_object_dated_before_the_newest_backup_is_only_reported(
    cli_env: RepoHandle, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _old, new = _two_snapshots(cli_env, tmp_path)
    junk = os.urandom(3000)
    path = cli_env.path / "snapshots" / hashlib.sha256(junk).hexdigest()  # even a valid name
    path.write_bytes(junk)
    stamp = time.time() - 7200
    os.utime(path, (stamp, stamp))
    r = run_cli(capsys, "restore", "latest", "--target", str(tmp_path / "out"))
    assert r.code == 0, r.err
    assert path.name in r.err and "authentication failed" in r.err
    r = run_cli(capsys, "snapshots", "--json")
    assert r.code == 0 and new in r.out and path.name not in r.out


def test_a_damaged_newest_snapshot_makes_latest_refuse_and_names_it(
    cli_env: RepoHandle, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = _two_snapshots(cli_env, tmp_path)
    _damage(cli_env, new, age=0)
    older = cli_env.path / "snapshots" / old
    os.utime(older, (time.time() - 3600,) * 2)
    for args in (["ls", "latest"], ["restore", "latest", "--target", str(tmp_path / "o1")]):
        r = run_cli(capsys, *args)
        assert r.code == 12 and f"snapshots/{new}" in r.err, r.err
        lines = [x for x in r.err.splitlines() if "same-device protection only" not in x]
        assert "by ID" in r.err and len(lines) == 1, r.err
    assert not (tmp_path / "o1" / "chat-store").exists()
    r = run_cli(capsys, "restore", old[:8], "--target", str(tmp_path / "o2"))
    assert r.code == 0 and (tmp_path / "o2/chat-store/a.txt").read_text() == "first day"
    r = run_cli(capsys, "restore", new[:8], "--target", str(tmp_path / "o3"))
    assert r.code == 12 and f"snapshots/{new}" in r.err


def test_without_storage_times_a_damaged_parent_is_known_older(tmp_path: Path) -> None:
    """On a store that records no write times, the parent link alone orders the objects."""
    from coffer.ops.listing import LatestIsAmbiguous, list_snapshots

    backend = MemoryBackend()
    repo = Repository.init(backend, SMALL_PARAMS)
    key = RecoveryKey.generate()
    repo.add_slot(SlotKind.RECOVERY, key.secret)
    src = tmp_path / "src"
    src.mkdir()
    (src / "a").write_text("1")
    first = backup(repo, [src]).snapshot.id
    (src / "a").write_text("22")
    second = backup(repo, [src]).snapshot.id
    third = backup(repo, [src], BackupOptions(use_parent=False)).snapshot.id  # no parent link
    from coffer.backends.base import ObjectType

    sealed = bytearray(backend.load(ObjectType.SNAPSHOTS, first))
    sealed[-1] ^= 1
    backend.save(ObjectType.SNAPSHOTS, first, bytes(sealed), overwrite=True)
    listing = list_snapshots(Repository.open(backend, SlotKind.RECOVERY, key.secret))
    assert [d.id for d in listing.damaged] == [first]
    assert listing.latest().id == third  # `first` is second's parent: older, so not a suspect
    backend.remove(ObjectType.SNAPSHOTS, second)  # now nothing says how old `first` is
    with pytest.raises(LatestIsAmbiguous, match=first):
        list_snapshots(Repository.open(backend, SlotKind.RECOVERY, key.secret)).latest()
