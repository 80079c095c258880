"""Repository locks: shared for backup and restore, exclusive for prune and repair.

Rules:
- A lock is a sealed object ``locks/<id>`` holding (exclusive, hostname, pid, time). Shared
  locks coexist; an exclusive lock excludes every other lock.
- A lock is stale when it was not refreshed for :data:`STALE_AFTER` seconds, or when it names a
  process on this host that no longer runs. Stale locks are ignored and can be removed
  (``coffer unlock``).
- Taking a lock is: check → write ours → check again; if a conflicting lock appeared meanwhile,
  ours is removed and :class:`~coffer.errors.RepositoryLocked` raised (two racing exclusive
  lockers may both back off, never both proceed).
- While held, a background thread refreshes the lock every :data:`REFRESH_EVERY` seconds.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from coffer.backends.base import BackendError, ObjectNotFound, ObjectType, TransientError
from coffer.engine.repository import Repository
from coffer.errors import IntegrityError, RepositoryLocked

STALE_AFTER = 30 * 60
REFRESH_EVERY = 5 * 60


@dataclass(frozen=True)
class LockInfo:
    id: str
    exclusive: bool
    hostname: str
    pid: int
    time: float

    def is_stale(self, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        if now - self.time > STALE_AFTER:
            return True
        return self.hostname == socket.gethostname() and not _pid_alive(self.pid)

    def describe(self) -> str:
        kind = "exclusive" if self.exclusive else "shared"
        age = int(time.time() - self.time)
        return f"{kind} lock by PID {self.pid} on {self.hostname}, {age} s old"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def list_locks(repo: Repository) -> list[LockInfo]:
    out = []
    for oid, size in repo.backend.list(ObjectType.LOCKS):
        try:
            doc = json.loads(repo.load_object(ObjectType.LOCKS, oid, size))
            out.append(
                LockInfo(
                    oid,
                    bool(doc["exclusive"]),
                    str(doc["hostname"]),
                    int(doc["pid"]),
                    float(doc["time"]),
                )
            )
        except TransientError:
            raise
        except (IntegrityError, BackendError, ValueError, KeyError):
            continue  # damaged, injected, not a regular file, removed meanwhile: not a lock
    return out


def _conflicts(repo: Repository, exclusive: bool, own: str | None) -> list[LockInfo]:
    return [
        lk
        for lk in list_locks(repo)
        if lk.id != own and not lk.is_stale() and (exclusive or lk.exclusive)
    ]


def _write(repo: Repository, exclusive: bool) -> str:
    doc = {
        "exclusive": exclusive,
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
        "time": time.time(),
    }
    return repo.save_object(ObjectType.LOCKS, json.dumps(doc).encode())


def remove_stale_locks(repo: Repository, *, all_locks: bool = False) -> int:
    removed = 0
    for lk in list_locks(repo):
        if all_locks or lk.is_stale():
            with contextlib.suppress(ObjectNotFound):
                repo.backend.remove(ObjectType.LOCKS, lk.id)
                removed += 1
    return removed


class _Holder:
    def __init__(self, repo: Repository, exclusive: bool) -> None:
        self.repo = repo
        self.exclusive = exclusive
        self.lock_id = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._refresh, daemon=True, name="coffer-lock")

    def acquire(self) -> None:
        found = _conflicts(self.repo, self.exclusive, None)
        if found:
            raise RepositoryLocked(f"repository is locked: {found[0].describe()}")
        self.lock_id = _write(self.repo, self.exclusive)
        found = _conflicts(self.repo, self.exclusive, self.lock_id)
        if found:
            self.release()
            raise RepositoryLocked(f"repository is locked: {found[0].describe()}")
        self._thread.start()

    def _refresh(self) -> None:
        while not self._stop.wait(REFRESH_EVERY):
            with contextlib.suppress(BackendError):
                new = _write(self.repo, self.exclusive)
                old, self.lock_id = self.lock_id, new
                self.repo.backend.remove(ObjectType.LOCKS, old)

    def release(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        with contextlib.suppress(BackendError):
            self.repo.backend.remove(ObjectType.LOCKS, self.lock_id)


@contextlib.contextmanager
def locked(repo: Repository, *, exclusive: bool = False) -> Iterator[None]:
    """Hold a shared (or exclusive) repository lock for the duration of the block."""
    if repo.backend.capabilities.append_only and not exclusive:
        yield  # append-only stores cannot delete lock files; shared work proceeds unlocked
        return
    holder = _Holder(repo, exclusive)
    holder.acquire()
    if exclusive:
        repo.drop_listing()  # what other devices wrote before we got the lock must be seen
    try:
        yield
    finally:
        holder.release()
