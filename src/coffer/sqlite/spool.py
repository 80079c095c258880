"""Logical dumps of SQLite databases taken in the background while the backup goes on.

Rules:
- :class:`SpoolQueue` runs at most one dump child process at a time (a dump keeps one core busy);
  each dump writes its stream into an anonymous temporary file (already unlinked, so it vanishes
  on every exit path) in the backup's temp folder.
- A dump is one read transaction in the child (:mod:`.proc`), so the database is
  captured as of one commit, taken when its dump starts.
- If the backup process is killed, a running dump finishes on its own (seconds) and exits; its
  file was never linked, so nothing is left behind.
- :meth:`SpooledDump.stream` waits for the dump and returns the file at offset 0, or raises
  :class:`~coffer.sqlite.logical.UnsupportedDatabase` with the child's last message; the
  child's :class:`~coffer.sqlite.proc.Manifest` (pieces and the new segment map) is then in
  :attr:`SpooledDump.manifest`. The previous snapshot's map, if any, reaches the child through
  a private temporary file (0600), removed when the dump ends, like the manifest file.

Theory: the dump is single-threaded Python that holds its process's GIL for every row. Started
as soon as the walker meets the database, it runs on the second core while the walker stores
the media folder; the chunker then reads the finished stream from the page cache.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import msgspec

from coffer.sqlite.logical import UnsupportedDatabase
from coffer.sqlite.proc import Manifest


class SpooledDump:
    """One database's logical stream, being written to a temporary file by a child process."""

    def __init__(self, db_path: Path, tmpdir: str | None, old_map: bytes | None = None) -> None:
        self.db_path = db_path
        self._tmpdir = tmpdir
        self._old_map = old_map
        self.manifest: Manifest | None = None
        self.file: BinaryIO | None = None  # opened when the dump starts, closed by close()
        self._proc: subprocess.Popen[bytes] | None = None
        self._error: str | None = None
        self._done = threading.Event()
        self._cancelled = False
        self._lock = threading.Lock()

    def run(self) -> None:
        """Run the dump to completion (called by the queue's thread)."""
        try:
            if self._cancelled:
                self._error = "cancelled"
                return
            # anonymous (already unlinked): it cannot outlive the process
            self.file = tempfile.TemporaryFile(prefix="coffer-dump-", dir=self._tmpdir)  # noqa: SIM115
            with _scratch(self._tmpdir, self._old_map) as (map_in, manifest):
                self._child(map_in, manifest)
        except OSError as exc:
            self._error = str(exc)
        finally:
            self._done.set()

    def _child(self, map_in: str, manifest: str) -> None:
        command = [sys.executable, "-m", "coffer.sqlite.proc", "pieces", str(self.db_path)]
        proc = subprocess.Popen([*command, map_in, manifest], stdin=subprocess.DEVNULL,
                                stdout=self.file, stderr=subprocess.PIPE)  # fmt: skip
        with self._lock:
            self._proc = proc
            if self._cancelled:  # close() ran while the child was starting
                proc.kill()
        _out, err = proc.communicate()
        if proc.returncode != 0:
            lines = err.decode(errors="replace").strip().splitlines()
            self._error = lines[-1] if lines else f"exit code {proc.returncode}"
            return
        try:
            self.manifest = msgspec.msgpack.decode(Path(manifest).read_bytes(), type=Manifest)
        except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
            self._error = f"unreadable dump manifest ({exc})"

    def stream(self) -> BinaryIO:
        """Wait for the dump; return its stream at offset 0."""
        self._done.wait()
        if self._error is not None or self.file is None:
            raise UnsupportedDatabase(f"cannot dump {self.db_path}: {self._error}")
        self.file.seek(0)
        return self.file

    def close(self) -> None:
        with self._lock:
            self._cancelled = True
            if self._proc is not None and self._proc.poll() is None:
                self._proc.kill()
        self._done.wait()
        if self.file is not None:
            self.file.close()


@contextlib.contextmanager
def _scratch(tmpdir: str | None, old_map: bytes | None) -> Iterator[tuple[str, str]]:
    """Private files for the child: the previous map ("-" when none) and the manifest."""
    names: list[str] = []
    try:
        map_in = "-"
        if old_map is not None:
            fd, map_in = tempfile.mkstemp(prefix="coffer-map-", dir=tmpdir)
            names.append(map_in)
            with os.fdopen(fd, "wb") as fh:
                fh.write(old_map)
        fd, manifest = tempfile.mkstemp(prefix="coffer-manifest-", dir=tmpdir)
        os.close(fd)
        names.append(manifest)
        yield map_in, manifest
    finally:
        for name in names:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)


class SpoolQueue:
    """Runs :class:`SpooledDump` jobs one after another in a background thread."""

    def __init__(self, tmpdir: str | None) -> None:
        self._tmpdir = tmpdir
        self._turn = threading.Lock()
        self.dumps: list[SpooledDump] = []

    def start(self, db_path: Path, old_map: bytes | None = None) -> SpooledDump:
        dump = SpooledDump(db_path, self._tmpdir, old_map)
        self.dumps.append(dump)

        def work() -> None:
            with self._turn:
                dump.run()

        threading.Thread(target=work, name="coffer-sqlite-dump", daemon=True).start()
        return dump

    def close(self) -> None:
        for dump in self.dumps:
            dump.close()
        self.dumps = []
