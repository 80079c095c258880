"""The database part of a restore: rebuilding logical-mode databases beside the other files.

Rules:
- A database stored in logical mode is rebuilt by a child process
  (:class:`~coffer.sqlite.proc.ProcessRestore`) into a private scratch folder inside the target
  (same file system, so the final rename is atomic), fed by a thread of this process, while the
  restore writes the folder's other entries; at most two rebuilds run at once.
- The rebuilt file is checked with ``quick_check`` (b-tree structure, constraints); a full
  ``integrity_check`` would only re-verify indexes SQLite has just built itself.
- Only after the child succeeded is the file given its mode and mtime and put in place by
  :func:`~coffer.ops.restore_place.place` (stale ``-wal``/``-journal`` moved aside first); a
  failure is reported for that path (the restore goes on, or stops with ``strict``). A child
  that failed because the target is full (SQLite's "database or disk is full", ``ENOSPC``)
  stops the restore with :class:`~coffer.engine.errors.TargetFull`, as a full disk does for
  any other file.
- The scratch folder also holds ``aside/``, where old databases and their companions wait until
  the restore ends (:class:`~coffer.ops.restore_place.Aside`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from coffer.backends.base import BackendError
from coffer.engine.snapshot import Node
from coffer.errors import IntegrityError
from coffer.ops.restore_place import Aside, place
from coffer.sqlite.proc import ProcessRestore

if TYPE_CHECKING:
    from coffer.ops.restore import Restorer

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


@dataclass
class DatabaseJob:
    node: Node
    rel: str
    tmp_name: str
    thread: threading.Thread = field(default_factory=threading.Thread)
    error: BaseException | None = None


class DatabaseRebuilds:
    """Starts and finishes the database rebuilds of one restore."""

    def __init__(self, restorer: Restorer) -> None:
        self.restorer = restorer
        self.scratch_fd: int | None = None
        self.scratch_path: Path | None = None
        self._jobs = 0
        self._slots = threading.BoundedSemaphore(2)  # database rebuilds at a time

    @contextlib.contextmanager
    def scratch(self, target: Path) -> Iterator[None]:
        """A private scratch folder inside ``target`` for the duration of the restore."""
        path = tempfile.mkdtemp(prefix=".coffer-restore-", dir=target)
        self.scratch_fd = os.open(path, _DIR_FLAGS)
        self.scratch_path = Path(path)
        aside_fd = -1
        try:
            os.mkdir("aside", 0o700, dir_fd=self.scratch_fd)
            aside_fd = os.open("aside", _DIR_FLAGS, dir_fd=self.scratch_fd)
            self.restorer.aside = Aside(aside_fd)
            yield
        finally:
            self.restorer.aside = Aside(None)
            if aside_fd >= 0:
                os.close(aside_fd)
            os.close(self.scratch_fd)
            self.scratch_fd = None
            shutil.rmtree(path, ignore_errors=True)

    def start(self, node: Node, rel: str) -> DatabaseJob:
        """Start rebuilding ``node``'s database from its logical stream, in the background."""
        if self.scratch_path is None:
            raise IntegrityError("internal: no scratch folder for database restores")
        self._jobs += 1
        job = DatabaseJob(node, rel, f"db-{self._jobs}")
        target = self.scratch_path / job.tmp_name

        def feed() -> None:
            try:
                with self._slots, ProcessRestore(target, full_check=False) as child:
                    for plain in self.restorer.blobs(node):
                        child.write(plain)
                    child.finish()
            except BaseException as exc:  # handed to the restoring thread
                job.error = exc

        job.thread = threading.Thread(target=feed, name="coffer-db-restore", daemon=True)
        job.thread.start()
        return job

    def finish(self, dir_fd: int, job: DatabaseJob) -> None:
        """Move a finished rebuild into place, or report why it failed."""
        if self.scratch_fd is None:
            raise IntegrityError("internal: no scratch folder for database restores")
        if job.error is not None:
            self._failed(job)
            return
        node = job.node
        fd = os.open(job.tmp_name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=self.scratch_fd)
        try:
            os.chmod(fd, stat.S_IMODE(node.mode))
            os.utime(fd, ns=(node.mtime_ns, node.mtime_ns))
            size = os.fstat(fd).st_size
        finally:
            os.close(fd)
        aside = self.restorer.aside
        moved = place(dir_fd, node.name, self.scratch_fd, job.tmp_name, database=True, aside=aside)
        self.restorer.placed(job.rel, size, moved, database=True)

    def _failed(self, job: DatabaseJob) -> None:
        error = job.error
        if _is_full(error):
            raise self.restorer.full(job.rel)
        if isinstance(error, IntegrityError | BackendError):
            self.restorer.fail(job.rel, error)
        elif isinstance(error, OSError):
            self.restorer.incomplete(job.rel, f"cannot be rebuilt ({error.strerror or error})")
        elif error is not None:
            raise error


def _is_full(error: BaseException | None) -> bool:
    """Did the rebuild fail because the target has no room (in this process or the child)?"""
    if isinstance(error, OSError):
        return error.errno in (errno.ENOSPC, errno.EDQUOT)
    text = str(error)
    return "database or disk is full" in text or "No space left on device" in text
