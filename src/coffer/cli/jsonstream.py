"""``--json`` on long commands: a stream of JSON objects, one per line, as restic writes them.

Rules:
- ``backup``, ``restore`` and ``check`` with ``--json`` write JSON Lines: every line is one
  object with a ``message_type``:

  ``status`` (stdout)          progress: ``action``, ``phase``, ``percent_done`` (0…1, by bytes),
                               ``total_bytes``, ``bytes_done``, ``total_files``, ``files_done``,
                               ``seconds_elapsed``, ``seconds_remaining`` (null until known)
  ``verbose_status`` (stdout)  with ``-v``: one per entry — ``action`` (backup: ``new``,
                               ``changed``; with ``-vv`` also ``unchanged``; restore:
                               ``restored``), ``item`` (its path), ``size``
  ``summary`` (stdout)         the last line of a command that finished: its result
  ``error`` (stderr)           a problem: ``error.message``, ``during``; the one that ends the
                               command also has ``exit_code`` and ``"fatal": true``

- A status line is written when the work starts, when it ends, and in between at most
  ``COFFER_PROGRESS_FPS`` times a second (default 1; restic's ``RESTIC_PROGRESS_FPS``).
- Paths are the repository's byte-exact names as JSON strings: an undecodable byte is the
  escape ``\\udcXX`` (Python's surrogateescape), which ``os.fsencode`` turns back into it.
- Without ``--json`` nothing here is used; ``-v`` then prints one line per entry on stdout
  (:class:`Verbose`) while the progress bar runs on stderr.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

import click

from coffer.engine.progress import Progress

if TYPE_CHECKING:
    from coffer.cli.context import Options

ACTIONS_AT = {"new": 1, "changed": 1, "restored": 1, "unchanged": 2}


def line(doc: dict[str, Any], stream: TextIO | None = None) -> None:
    """Write one JSON object as one line and flush it (a GUI reads it at once)."""
    out = stream or sys.stdout
    out.write(json.dumps(doc, separators=(",", ":"), default=str) + "\n")
    out.flush()


def summary(doc: dict[str, Any]) -> None:
    line({"message_type": "summary", **doc})


def fatal(exc: BaseException, exit_code: int, fallback: str = "") -> None:
    """The error that ends a ``--json`` command, as the stream's last stderr line."""
    error = {"message": str(exc) or fallback, "type": type(exc).__name__}
    doc = {"message_type": "error", "error": error, "exit_code": exit_code, "fatal": True}
    line(doc, sys.stderr)


def _fps() -> float:
    try:
        value = float(os.environ.get("COFFER_PROGRESS_FPS", "1"))
    except ValueError:
        return 1.0
    return value if value > 0 else 1.0


class JsonStatus(Progress):
    """Progress as ``status``, ``verbose_status`` and ``error`` lines (module rules)."""

    def __init__(self, verbose: int = 0, clock: Callable[[], float] = time.monotonic) -> None:
        self.verbose = verbose
        self.clock = clock
        self.interval = 1.0 / _fps()
        self.started = clock()
        self.warnings: list[str] = []
        self.action = ""
        self.phase_label = ""
        self.total_bytes = self.total_files = self.bytes_done = self.files_done = 0
        self._last = float("-inf")
        self._complete = self._ended = False

    def start(self, total_bytes: int, total_files: int, label: str = "") -> None:
        self.started = self.clock()
        self.action = self.phase_label = label
        self.total_bytes, self.total_files = total_bytes, total_files
        self.bytes_done = self.files_done = 0
        self._complete = self._ended = False
        self._status(force=True)

    def advance(self, nbytes: int) -> None:
        self.bytes_done += nbytes
        self._status()

    def file_done(self, path: str) -> None:
        self.files_done += 1
        self._status()

    def item(self, path: str, action: str, size: int) -> None:
        if self.verbose >= ACTIONS_AT.get(action, 1):
            doc = {"message_type": "verbose_status", "action": action, "item": path}
            line({**doc, "size": size})

    def phase(self, label: str) -> None:
        self.phase_label = label
        self._status(force=True)

    def complete(self) -> None:
        self._complete = True

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        doc = {"message_type": "error", "error": {"message": message}, "during": self.action}
        line(doc, sys.stderr)

    def finish(self) -> None:
        self._ended = True
        self._status(force=True)

    def _status(self, force: bool = False) -> None:
        now = self.clock()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        line(self.status(now))

    def status(self, now: float) -> dict[str, Any]:
        elapsed = now - self.started
        finished = self._complete or (self._ended and not self.total_bytes)
        if finished or (self.total_bytes and self.bytes_done >= self.total_bytes):
            done = 1.0
        else:
            done = min(self.bytes_done / self.total_bytes, 1.0) if self.total_bytes else 0.0
        remaining = elapsed * (1 - done) / done if 0 < done < 1 else (0.0 if done else None)
        return {
            "message_type": "status",
            "action": self.action,
            "phase": self.phase_label,
            "percent_done": round(done, 4),
            "total_bytes": self.total_bytes,
            "bytes_done": min(self.bytes_done, self.total_bytes) if done < 1 else self.total_bytes,
            "total_files": self.total_files,
            "files_done": self.files_done,
            "seconds_elapsed": round(elapsed, 3),
            "seconds_remaining": None if remaining is None else round(remaining, 3),
        }


class Verbose(Progress):
    """``-v`` without ``--json``: forward to the bar, print each entry as ``action  path``."""

    def __init__(self, inner: Progress, verbose: int, show: Callable[[str], str]) -> None:
        self.inner = inner
        self.verbose = verbose
        self.show = show

    def __getattr__(self, name: str) -> Any:  # started, warnings … of the bar
        return getattr(self.inner, name)

    def start(self, total_bytes: int, total_files: int, label: str = "") -> None:
        self.inner.start(total_bytes, total_files, label)

    def advance(self, nbytes: int) -> None:
        self.inner.advance(nbytes)

    def file_done(self, path: str) -> None:
        self.inner.file_done(path)

    def item(self, path: str, action: str, size: int) -> None:
        if self.verbose >= ACTIONS_AT.get(action, 1):
            click.echo(f"{action:<10} {self.show(path)}")

    def phase(self, label: str) -> None:
        self.inner.phase(label)

    def complete(self) -> None:
        self.inner.complete()

    def warn(self, message: str) -> None:
        self.inner.warn(message)

    def finish(self) -> None:
        self.inner.finish()


def progress_for(opts: Options) -> Progress:
    """The progress a long command reports to: JSON lines, or the bar (with ``-v`` lines)."""
    from coffer.cli.output import BarProgress, safe_text

    if opts.json:
        return JsonStatus(opts.verbose)
    bar = BarProgress(enabled=not opts.quiet)
    return Verbose(bar, opts.verbose, safe_text) if opts.verbose else bar
