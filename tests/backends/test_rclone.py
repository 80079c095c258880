"""RcloneBackend specifics: the child process's life cycle, errors, configuration, crypt."""

from __future__ import annotations

import gc
import hashlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from coffer.backends.base import AppendOnlyError, BackendConfigError, ObjectType, TransientError
from coffer.backends.rclone import RcloneBackend, redact
from coffer.backends.registry import open_backend
from coffer.backends.wrapper import unwrap


def oid(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rpartition(")")[2].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def wait_gone(pid: int, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not running(pid):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def remote(rclone_config: Path) -> str:
    return f"localdisk:{rclone_config.parent / 'plain' / uuid.uuid4().hex}"


def make(remote: str, conf: Path) -> RcloneBackend:
    return RcloneBackend(remote, args=["--config", str(conf)])


def test_close_ends_the_child(remote: str, rclone_config: Path) -> None:
    b = make(remote, rclone_config)
    pid = b.transport.pid
    assert pid is not None and running(pid)
    b.save(ObjectType.CONFIG, "config", b"c")
    b.close()
    assert not running(pid)
    with pytest.raises(BackendConfigError, match="closed"):
        b.stat(ObjectType.CONFIG, "config")


def test_garbage_collection_ends_the_child(remote: str, rclone_config: Path) -> None:
    b = make(remote, rclone_config)
    pid = b.transport.pid
    assert pid is not None
    del b
    gc.collect()
    assert wait_gone(pid)


CHILD = """
import os, sys, time
from coffer.backends.rclone import RcloneBackend
b = RcloneBackend(sys.argv[1], args=["--config", sys.argv[2]])
print(b.transport.pid, flush=True)
if sys.argv[3] == "hang":
    time.sleep(600)
"""


def _spawn_owner(remote: str, conf: Path, mode: str) -> tuple[subprocess.Popen[str], int]:
    owner = subprocess.Popen(
        [sys.executable, "-c", CHILD, remote, str(conf), mode], stdout=subprocess.PIPE, text=True
    )
    assert owner.stdout is not None
    return owner, int(owner.stdout.readline())


def test_child_ends_when_the_owner_is_killed(remote: str, rclone_config: Path) -> None:
    owner, pid = _spawn_owner(remote, rclone_config, "hang")
    assert running(pid)
    owner.send_signal(signal.SIGKILL)
    owner.wait()
    assert wait_gone(pid), "rclone survived its owner's SIGKILL"


def test_child_ends_at_interpreter_exit(remote: str, rclone_config: Path) -> None:
    owner, pid = _spawn_owner(remote, rclone_config, "exit")
    assert owner.wait(60) == 0
    assert wait_gone(pid), "rclone survived its owner's normal exit"


def test_bad_remote_is_a_config_error_with_rclones_message(rclone_config: Path) -> None:
    with pytest.raises(BackendConfigError, match="rclone could not start") as info:
        make("nosuchremote:somewhere", rclone_config)
    assert "nosuchremote" in str(info.value)


def test_missing_binary(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("COFFER_RCLONE", str(tmp_path / "no-rclone"))
    with pytest.raises(BackendConfigError, match="COFFER_RCLONE"):
        RcloneBackend("x:y")


def test_killed_child_is_transient_then_restarted(remote: str, rclone_config: Path) -> None:
    with make(remote, rclone_config) as b:
        b.save(ObjectType.KEYS, oid("k"), b"key")
        first = b.transport.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        with pytest.raises(TransientError, match="rclone"):
            b.load(ObjectType.KEYS, oid("k"))
        assert b.load(ObjectType.KEYS, oid("k")) == b"key"
        assert b.transport.pid != first


def test_rclone_config_env_and_registry(
    rclone_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RCLONE_CONFIG", str(rclone_config))
    folder = uuid.uuid4().hex
    with open_backend(f"rclone:localdisk:{rclone_config.parent / 'plain' / folder}") as b:
        assert isinstance(unwrap(b), RcloneBackend)
        b.save(ObjectType.DATA, oid("d"), b"packed")
    path = rclone_config.parent / "plain" / folder / "data" / oid("d")[:2] / oid("d")
    assert path.read_bytes() == b"packed"


def test_crypt_remote_hides_names_and_content(rclone_config: Path) -> None:
    folder = uuid.uuid4().hex
    secret = b"plain chat text " * 64
    with make(f"secret:{folder}", rclone_config) as b:
        b.save(ObjectType.SNAPSHOTS, oid("s"), secret)
        assert b.load(ObjectType.SNAPSHOTS, oid("s")) == secret
    under = rclone_config.parent / "crypt-under"
    stored = [p for p in under.rglob("*") if p.is_file()]
    assert stored
    for p in stored:
        assert oid("s") not in str(p) and folder not in str(p)
        assert b"plain chat text" not in p.read_bytes()


@pytest.mark.parametrize(
    "remote,shown",
    [
        ("gdrive:coffer", "gdrive:coffer"),
        (":s3,access_key_id=AK,secret_access_key=SK:bucket/x", ":s3,…:bucket/x"),
        ("sftp,pass=hunter2:dir", "sftp,…:dir"),
        ("/local/path", "/local/path"),
    ],
)
def test_redact(remote: str, shown: str) -> None:
    assert redact(remote) == shown


def test_extra_flags_from_the_environment(
    remote: str, rclone_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COFFER_RCLONE_ARGS", f"--config '{rclone_config}' --append-only")
    with RcloneBackend(remote) as b:
        assert b.capabilities.append_only
        b.save(ObjectType.INDEX, oid("i"), b"index")
        with pytest.raises(AppendOnlyError, match="append-only"):
            b.remove(ObjectType.INDEX, oid("i"))
    monkeypatch.setenv("COFFER_RCLONE_ARGS", "--config 'unterminated")
    with pytest.raises(BackendConfigError, match="COFFER_RCLONE_ARGS"):
        RcloneBackend(remote)


def test_start_errors_do_not_repeat_secrets_from_connection_strings() -> None:
    with pytest.raises(BackendConfigError, match="nosuchbackend") as info:
        RcloneBackend(":nosuchbackend,password=hunter2:x")
    assert "hunter2" not in str(info.value)
