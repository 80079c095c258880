"""Consistent copies of live SQLite databases through SQLite's online backup API.

Rules:
- A file is treated as a database when its first 16 bytes are SQLite's header string.
- The copy is taken in one backup step (``pages=-1``), which holds a read transaction for the
  whole copy: the result is the database as of one commit, even while the app keeps writing
  (in WAL mode the writer is not blocked; in rollback mode it waits for the copy).
- The copy goes to a private temporary file (0600) that is deleted on every exit path; the
  ``-wal``/``-shm``/``-journal`` companions of a captured database are not backed up separately,
  since the copy already contains their committed content.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

SQLITE_MAGIC = b"SQLite format 3\x00"
COMPANION_SUFFIXES = ("-wal", "-shm", "-journal")


def is_sqlite_header(head: bytes) -> bool:
    return head[:16] == SQLITE_MAGIC


def companion_of(path: Path) -> Path | None:
    """If ``path`` is a -wal/-shm/-journal file of a database beside it, return that database."""
    for suffix in COMPANION_SUFFIXES:
        if path.name.endswith(suffix):
            base = path.with_name(path.name[: -len(suffix)])
            try:
                with open(base, "rb") as fh:
                    if is_sqlite_header(fh.read(16)):
                        return base
            except OSError:
                return None
    return None


def _connect_source(path: Path) -> sqlite3.Connection:
    uri = f"file:{path.as_posix()}?mode=ro"
    try:
        return sqlite3.connect(uri, uri=True, timeout=30)
    except sqlite3.Error:
        return sqlite3.connect(path, timeout=30)


@contextlib.contextmanager
def consistent_copy(path: Path, tmpdir: str | None = None) -> Iterator[tuple[Path, int]]:
    """Yield ``(copy_path, page_size)`` of a consistent copy of the database at ``path``."""
    fd, name = tempfile.mkstemp(prefix="coffer-db-", suffix=".sqlite", dir=tmpdir)
    os.close(fd)
    copy = Path(name)
    try:
        src = _connect_source(path)
        try:
            dst = sqlite3.connect(copy)
            try:
                src.backup(dst, pages=-1)
                page_size = int(dst.execute("PRAGMA page_size").fetchone()[0])
            finally:
                dst.close()
        finally:
            src.close()
        yield copy, page_size
    finally:
        with contextlib.suppress(FileNotFoundError):
            copy.unlink()
