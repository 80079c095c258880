"""A FIFO, a device or a folder where a local repository expects an object never hangs Coffer.

Opening a FIFO for reading blocks until a writer appears — forever, in an unattended backup.
The local backend opens objects with ``O_NONBLOCK`` and refuses anything but a regular file.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from coffer.backends.base import BackendError, ObjectType
from coffer.backends.local import LocalBackend
from coffer.crypto.recovery import RecoveryKey
from coffer.crypto.slots import SlotKind
from coffer.engine.repository import Repository

NAME = "ab" * 32


def _load_within(backend: LocalBackend, kind: ObjectType, name: str, seconds: float) -> object:
    """Run ``load`` in a daemon thread: the result or exception, or "hung" after ``seconds``."""
    box: list[object] = []

    def run() -> None:
        try:
            box.append(backend.load(kind, name))
        except Exception as exc:
            box.append(exc)

    thread = threading.Thread(target=run, daemon=True)  # a hung open() must not block exit
    thread.start()
    thread.join(seconds)
    return box[0] if box else "hung"


@pytest.mark.parametrize(
    ("kind", "rel"),
    [
        (ObjectType.SNAPSHOTS, f"snapshots/{NAME}"),
        (ObjectType.INDEX, f"index/{NAME}"),
        (ObjectType.KEYS, f"keys/{NAME}"),
        (ObjectType.LOCKS, f"locks/{NAME}"),
        (ObjectType.DATA, f"data/{NAME[:2]}/{NAME}"),
        (ObjectType.CONFIG, "config"),
    ],
)
def test_a_fifo_in_place_of_an_object_is_a_backend_error_not_a_hang(
    tmp_path: Path, kind: ObjectType, rel: str
) -> None:
    path = tmp_path / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    name = "config" if kind is ObjectType.CONFIG else NAME
    outcome = _load_within(LocalBackend(tmp_path), kind, name, 5)
    assert isinstance(outcome, BackendError), outcome
    assert "not a regular file" in str(outcome) and name in str(outcome)


def test_a_device_or_folder_in_place_of_an_object_is_refused(tmp_path: Path) -> None:
    (tmp_path / "snapshots").mkdir()
    os.symlink("/dev/zero", tmp_path / "snapshots" / NAME)  # endless bytes if read
    (tmp_path / "index" / NAME).mkdir(parents=True)
    backend = LocalBackend(tmp_path)
    for kind in (ObjectType.SNAPSHOTS, ObjectType.INDEX):
        outcome = _load_within(backend, kind, NAME, 5)
        assert isinstance(outcome, BackendError) and "not a regular file" in str(outcome), outcome


def test_coffer_snapshots_lists_past_a_fifo_in_snapshots(tmp_path: Path) -> None:
    repo_dir = tmp_path / "repo"
    repo = Repository.init(LocalBackend(repo_dir))
    key = RecoveryKey.generate()
    repo.add_slot(SlotKind.RECOVERY, key.secret)
    (repo_dir / "snapshots").mkdir(exist_ok=True)
    os.mkfifo(repo_dir / "snapshots" / NAME)
    env = {**os.environ, "COFFER_REPO": str(repo_dir), "COFFER_RECOVERY_KEY": key.display()}
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "coffer", "snapshots"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("`coffer snapshots` hung on a FIFO in snapshots/ (killed after 60 s)")
    assert proc.returncode == 0, proc.stderr
    assert f"snapshots/{NAME}" in proc.stderr and "not a regular file" in proc.stderr
    assert "Traceback" not in proc.stderr
