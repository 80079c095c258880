"""Which files other processes have open for writing, so restore never replaces one unnoticed.

Rules:
- :func:`scan` reads the ``/proc/<pid>/fd/*`` links of every process it can see, once, and keeps
  those that point below the restore target (the link text is the kernel's absolute path of the
  open file). For those only, a ``flags`` line in ``/proc/<pid>/fdinfo/<fd>`` with ``O_WRONLY``
  or ``O_RDWR`` marks the file (``stat`` through the link reaches the open file itself) as open
  for writing by that process. This process is left out. A scan of ~2,000 descriptors takes
  tens of milliseconds.
- A restore asks :meth:`OpenFiles.writers` before it replaces or deletes an existing file; a
  file with writers is left alone and reported (an app still running on its database would
  keep writing to the replaced file and lose everything after the restore).

Limits (said in the restore output's help and in README): Linux only — elsewhere, or without a
readable ``/proc``, :attr:`OpenFiles.available` is False and nothing is detected. A non-root
user sees only its own processes (an app under another user ID, as on Android, is invisible),
and ``hidepid`` mounts hide more. It is a snapshot in time: a process may open the file right
after the scan. A file mapped into memory without an open descriptor, or opened on another
machine over a network file system, is not seen. It is a warning system, not a lock.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path

_WRITE_MODES = (os.O_WRONLY, os.O_RDWR)


@dataclass(frozen=True)
class Writer:
    """A process holding a file open for writing."""

    pid: int
    command: str

    def __str__(self) -> str:
        return f"process {self.pid} ({self.command})" if self.command else f"process {self.pid}"


@dataclass
class OpenFiles:
    """Files open for writing, by ``(st_dev, st_ino)``."""

    available: bool = False
    by_file: dict[tuple[int, int], list[Writer]] = field(default_factory=dict)

    def writers(self, st: os.stat_result) -> list[Writer]:
        return self.by_file.get((st.st_dev, st.st_ino), [])


def _flags(fdinfo: Path) -> int | None:
    try:
        for line in fdinfo.read_text().splitlines():
            if line.startswith("flags:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        return None
    return None


def _command(proc: Path) -> str:
    try:
        return (proc / "comm").read_text().strip()
    except OSError:
        return ""


def _scan_process(proc: Path, below: str, out: OpenFiles) -> None:
    try:
        fds = os.listdir(proc / "fd")
    except OSError:
        return  # gone, or not ours to see
    command: str | None = None
    for fd in fds:
        try:
            if not os.readlink(proc / "fd" / fd).startswith(below):
                continue
        except OSError:
            continue
        flags = _flags(proc / "fdinfo" / fd)
        if flags is None or (flags & os.O_ACCMODE) not in _WRITE_MODES:
            continue
        try:
            st = os.stat(proc / "fd" / fd)
        except OSError:
            continue
        if command is None:
            command = _command(proc)
        out.by_file.setdefault((st.st_dev, st.st_ino), []).append(Writer(int(proc.name), command))


def scan(target: Path, root: Path = Path("/proc")) -> OpenFiles:
    """Files below ``target`` open for writing in any visible process (see the module docstring
    for what cannot be seen)."""
    out = OpenFiles()
    below = os.path.join(os.path.realpath(target), "")
    with contextlib.suppress(OSError):
        entries = os.listdir(root)
        out.available = (root / "self" / "fdinfo").is_dir()
        me = str(os.getpid())
        for name in entries:
            if name.isdigit() and name != me:
                _scan_process(root / name, below, out)
    return out
