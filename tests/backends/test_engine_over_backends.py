"""The storage engine through each remote backend (issue 6): real servers, real rclone.

- a full backup, check --read-data and restore of a generated chat store over s3, rest, rclone;
- a backup over s3 killed mid-upload, then a run that completes without re-uploading;
- an append-only REST server: backup works, deleting is refused and says why;
- a flaky backend (20 % of calls fail transiently) under retry: backup, restore, check clean.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from coffer.backends.base import AppendOnlyError, Backend, ObjectType
from coffer.backends.faults import FaultInjector
from coffer.backends.local import LocalBackend
from coffer.backends.rclone import RcloneBackend
from coffer.backends.registry import open_backend
from coffer.backends.retry import RetryBackend
from coffer.backends.wrapper import Wrapper, unwrap
from coffer.cli.verify import compare_trees
from coffer.crypto.recovery import RecoveryKey
from coffer.crypto.slots import SlotKind
from coffer.engine.chunker import ChunkerParams
from coffer.engine.repository import RepoParams, Repository
from coffer.ops.backup import backup
from coffer.ops.check import check
from coffer.ops.prune import PruneRefused, prune
from coffer.ops.restore import restore
from coffer.sample.generate import generate_chat_store
from coffer.sample.spec import ChatStoreSpec

from .servers import S3_KEY, S3_SECRET, Server

PARAMS = RepoParams(
    chunker=ChunkerParams(min_size=16 * 1024, avg_size=64 * 1024, max_size=256 * 1024),
    pack_size=512 * 1024,
)
SPEC = ChatStoreSpec(
    seed=6,
    messages=3000,
    contacts=30,
    chats=12,
    media_bytes=3_000_000,
    photo_range=(100_000, 600_000),
)


@pytest.fixture(scope="module")
def chat_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("chat") / "store"
    generate_chat_store(root, SPEC)
    return root


@pytest.fixture
def s3_env(s3_server: Server, monkeypatch: pytest.MonkeyPatch) -> str:
    """AWS credentials in the environment, as a user would set them; returns a fresh address."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", S3_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", S3_SECRET)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    return f"s3:{s3_server.url}/coffer/engine-{uuid.uuid4().hex}"


def init_repo(backend: Backend) -> RecoveryKey:
    repo = Repository.init(backend, PARAMS)
    key = RecoveryKey.generate()
    repo.add_slot(SlotKind.RECOVERY, key.secret)
    return key


def open_repo(backend: Backend, key: RecoveryKey) -> Repository:
    repo = Repository.open(backend, SlotKind.RECOVERY, key.secret)
    repo.load_index()
    return repo


def round_trip(backend: Backend, source: Path, target: Path) -> RecoveryKey:
    """Init, back up, check --read-data, restore, compare; then an unchanged second backup."""
    key = init_repo(backend)
    result = backup(open_repo(backend, key), [source])
    assert result.skipped == []
    assert list(backend.list(ObjectType.DATA)), "no packs were stored"
    report = check(open_repo(backend, key), read_data=True)
    assert report.ok, report.errors
    repo = open_repo(backend, key)
    restore(repo, repo.load_snapshot(result.snapshot.id), target)
    assert compare_trees(source, target / source.name) == []
    again = backup(open_repo(backend, key), [source])
    assert again.bytes_stored < 0.01 * result.bytes_read
    return key


@pytest.fixture
def remote_address(request: pytest.FixtureRequest, rclone_config: Path) -> Iterator[str]:
    kind = request.param
    if kind == "s3":
        yield request.getfixturevalue("s3_env")
    elif kind == "rest":
        server: Server = request.getfixturevalue("rest_server")
        yield f"rest:{server.url}/engine-{uuid.uuid4().hex}/"
    else:
        remote = "secret:" if kind == "rclone-crypt" else f"localdisk:{rclone_config.parent}/plain/"
        mp = request.getfixturevalue("monkeypatch")
        mp.setenv("RCLONE_CONFIG", str(rclone_config))
        yield f"rclone:{remote}engine-{uuid.uuid4().hex}"


@pytest.mark.parametrize(
    "remote_address", ["s3", "rest", "rclone-local", "rclone-crypt"], indirect=True
)
def test_backup_and_restore_through_remote(
    remote_address: str, chat_store: Path, tmp_path: Path
) -> None:
    with open_backend(remote_address) as backend:
        round_trip(backend, chat_store, tmp_path / "restored")


def test_flaky_backend_with_retries(chat_store: Path, tmp_path: Path) -> None:
    flaky = FaultInjector(
        LocalBackend(tmp_path / "repo"), fail_rate=0.2, seed=99, lost_ack_calls=range(5, 10**6, 11)
    )
    backend = RetryBackend(flaky, attempts=12, sleep=lambda _s: None)
    round_trip(backend, chat_store, tmp_path / "restored")
    assert flaky.injected > 20 and backend.retries >= flaky.injected


def test_append_only_rest_backup_works_and_delete_is_refused(
    rest_append_only_server: Server, chat_store: Path, tmp_path: Path
) -> None:
    with open_backend(f"rest:{rest_append_only_server.url}/ao-{uuid.uuid4().hex}/") as backend:
        assert backend.capabilities.append_only
        key = round_trip(backend, chat_store, tmp_path / "restored")
        assert list(backend.list(ObjectType.LOCKS)) == []  # the backups released their locks
        snap, _size = next(iter(backend.list(ObjectType.SNAPSHOTS)))
        with pytest.raises(AppendOnlyError, match="the server is append-only") as info:
            backend.remove(ObjectType.SNAPSHOTS, snap)
        assert info.value.exit_code == 14
        pack, _size = next(iter(backend.list(ObjectType.DATA)))
        with pytest.raises(AppendOnlyError, match="refused to delete data/"):
            backend.remove(ObjectType.DATA, pack)
        assert backend.exists(ObjectType.SNAPSHOTS, snap) and backend.exists(ObjectType.DATA, pack)
        with pytest.raises(PruneRefused, match="append-only") as refused:
            prune(open_repo(backend, key))
        assert refused.value.exit_code == 14


# -- interrupted backup over s3 --------------------------------------------------------------


class Recorder(Wrapper):
    """Records the names saved through it."""

    def __init__(self, inner: Backend) -> None:
        super().__init__(inner)
        self.saved: list[tuple[ObjectType, str]] = []

    def save(self, kind: ObjectType, name: str, data: bytes, *, overwrite: bool = False) -> None:
        super().save(kind, name, data, overwrite=overwrite)
        self.saved.append((kind, name))


def _media(root: Path, files: int, size: int) -> Path:
    root.mkdir()
    for i in range(files):
        (root / f"video-{i:02d}.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(size))
    return root


def _kill_after_packs(proc: subprocess.Popen[bytes], backend: Backend, packs: int) -> bool:
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if len(list(backend.list(ObjectType.DATA))) >= packs:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.02)
    return False


def _wait_no_process(pattern: str, ours: int | None) -> bool:
    """Wait until no process but ``ours`` has ``pattern`` in its command line."""
    for _ in range(200):
        found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
        if {int(p) for p in found.stdout.split()} <= {ours}:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("remote_address", ["s3", "rest", "rclone-local"], indirect=True)
def test_interrupted_backup_resumes_without_reupload(remote_address: str, tmp_path: Path) -> None:
    """Kill the client mid-upload: no partial pack stays visible, the next run adopts the packs."""
    source = _media(tmp_path / "videos", 24, 400_000)
    source_size = sum(p.stat().st_size for p in source.iterdir())
    backend = open_backend(remote_address)
    key = init_repo(backend)
    env = {**os.environ, "COFFER_REPO": remote_address, "COFFER_RECOVERY_KEY": key.display()}
    env["COFFER_LIMIT_UPLOAD"] = "2048"  # ~4 s of uploads after a 2 MiB burst: time to kill
    proc = subprocess.Popen(
        [sys.executable, "-m", "coffer", "backup", "-q", str(source)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert _kill_after_packs(proc, backend, 3), "the backup finished before it could be killed"
    if remote_address.startswith("rclone:"):
        ours = unwrap(backend)
        assert isinstance(ours, RcloneBackend)
        folder = remote_address.split(":", 2)[2]
        assert _wait_no_process(folder, ours.transport.pid), "the killed client's rclone survived"
    before = {name for name, _size in backend.list(ObjectType.DATA)}
    assert before and not list(backend.list(ObjectType.SNAPSHOTS))
    torn = {n for n in before if hashlib.sha256(backend.load(ObjectType.DATA, n)).hexdigest() != n}
    if not remote_address.startswith("rclone:"):
        assert torn == set(), "a partial upload is visible"  # pack IDs hash their content
    # rclone's local remote writes in place and, when the killed client's pipe closes, rclone
    # exits without removing the partial file: a torn pack may remain (docs/storage.md). It is
    # unreferenced; the assertions below show the engine gets past it.
    for lock, _size in list(backend.list(ObjectType.LOCKS)):
        backend.remove(ObjectType.LOCKS, lock)  # the killed process's lock (dead PID: stale)

    recorder = Recorder(backend)
    result = backup(open_repo(recorder, key), [source])
    resaved = {name for kind, name in recorder.saved if kind is ObjectType.DATA} & before
    assert resaved == set(), "packs already on the server were uploaded again"
    assert result.bytes_new < source_size  # the killed run's packs were adopted
    stored = sum(size for _name, size in backend.list(ObjectType.DATA))
    assert stored < 1.1 * source_size, "the repository holds the data twice"
    report = check(open_repo(backend, key), read_data=True)
    assert report.ok, report.errors
    repo = open_repo(backend, key)
    restore(repo, repo.load_snapshot(result.snapshot.id), tmp_path / "out")
    assert compare_trees(source, tmp_path / "out" / source.name) == []
    backend.close()


def test_cli_backup_over_rclone_leaves_no_rclone_behind(
    rclone_config: Path, chat_store: Path, tmp_path: Path
) -> None:
    folder = rclone_config.parent / "plain" / f"cli-{uuid.uuid4().hex}"
    address = f"rclone:localdisk:{folder}"
    env = {**os.environ, "RCLONE_CONFIG": str(rclone_config)}
    os.environ["RCLONE_CONFIG"] = str(rclone_config)
    try:
        with open_backend(address) as backend:
            key = init_repo(backend)
    finally:
        del os.environ["RCLONE_CONFIG"]
    env.update(COFFER_REPO=address, COFFER_RECOVERY_KEY=key.display())
    done = subprocess.run(
        [sys.executable, "-m", "coffer", "backup", "-q", str(chat_store)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert any((folder / "snapshots").iterdir())
    for _ in range(100):  # rclone exits on EOF; allow it a moment
        leftovers = subprocess.run(["pgrep", "-f", str(folder)], capture_output=True, text=True)
        if not leftovers.stdout.strip():
            break
        time.sleep(0.05)
    assert leftovers.stdout.strip() == "", "an rclone child outlived the CLI"
