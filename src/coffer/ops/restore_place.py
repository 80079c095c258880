"""Putting a finished file in place: one rename — and, for a database, never next to a stale
``-wal``/``-shm``/``-journal`` it could replay.

Rules:
- A plain file is renamed over its name (atomic: readers see the old file or the new one).
- SQLite pairs a database with whatever ``NAME-wal`` or ``NAME-journal`` sits beside it and
  replays it on open, whatever database file it finds: a stale WAL from the app's last run
  turns a correct restore into wrong rows, a stale hot journal into a malformed file. So when a
  database goes where companions exist, :func:`place` first moves the **old database** aside
  (the name is then empty: no reader can open the old database without its journal, which could
  leave it inconsistent), then its companions, then renames the new file in. At no moment does
  the name hold the new database with an old companion, or the old one without its own. The
  moved files stay together in the restore's private folder until the restore ends.
- Where the private folder is on another file system (a mount point inside the target), the old
  files are removed in the same order instead.
- Companion names are the ones SQLite uses and backup skips (``coffer.sqlite.capture``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat

from coffer.sqlite.capture import COMPANION_SUFFIXES


def _lstat(dir_fd: int, name: str) -> os.stat_result | None:
    try:
        return os.lstat(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return None


def companions(dir_fd: int, name: str) -> list[str]:
    """The companion files of ``name`` present in the folder."""
    return [name + s for s in COMPANION_SUFFIXES if _lstat(dir_fd, name + s) is not None]


def dirty_companions(dir_fd: int, name: str) -> bool:
    """A ``-wal`` or ``-journal`` with content: the database there is more than its file."""
    for suffix in ("-wal", "-journal"):
        st = _lstat(dir_fd, name + suffix)
        if st is not None and st.st_size > 0:
            return True
    return False


class Aside:
    """Where old entries go before their name is reused: a folder emptied when restore ends."""

    def __init__(self, fd: int | None) -> None:
        self.fd = fd
        self._n = 0

    def take(self, dir_fd: int, name: str) -> bool:
        """Move ``name`` out of the way (or remove it); False if there was nothing."""
        if _lstat(dir_fd, name) is None:
            return False
        if self.fd is not None:
            self._n += 1
            try:
                os.rename(name, f"old-{self._n}", src_dir_fd=dir_fd, dst_dir_fd=self.fd)
                return True
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=dir_fd)
        return True


def place(
    dir_fd: int, name: str, src_fd: int, tmp: str, *, database: bool, aside: Aside
) -> list[str]:
    """Rename ``tmp`` (in ``src_fd``) to ``name`` (in ``dir_fd``); return the companions moved."""
    moved: list[str] = []
    present = companions(dir_fd, name) if database else []
    if present:
        aside.take(dir_fd, name)  # the old database first: see the module docstring
        moved = [c for c in present if aside.take(dir_fd, c)]
    unlink_if_symlink(dir_fd, name)
    os.rename(tmp, name, src_dir_fd=src_fd, dst_dir_fd=dir_fd)
    return moved


def unlink_if_symlink(dir_fd: int, name: str) -> None:
    """A rename replaces a link rather than writing through it; remove it to be explicit."""
    st = _lstat(dir_fd, name)
    if st is not None and stat.S_ISLNK(st.st_mode):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=dir_fd)
