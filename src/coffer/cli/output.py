"""Output helpers: human text or JSON, progress bars only on a terminal, sizes for humans.

Rules:
- Names from the file system are bytes; in memory they are ``str`` with surrogateescape, and
  may hold control characters or bidi overrides that would garble or spoof a terminal.
  :func:`safe_text` is the one function that makes such text printable; every warning and
  every path the CLI prints goes through it. Its escapes are reversible (:func:`unescape`), so
  a path printed by ``ls`` can be passed back to ``restore --path``.
- Sizes are binary units everywhere (B, KiB, MiB, GiB, TiB): summaries and progress bars alike.
- Times are shown in the local time zone with its offset, to the second.
"""

from __future__ import annotations

import json
import re
import sys
import time
import unicodedata
from datetime import datetime
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgressBar
from rich.text import Text

from coffer.engine.progress import Progress

# bidi controls (Trojan-Source spoofing), and separators that break a line
_UNSAFE_CODEPOINTS = frozenset(
    [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C, 0x2028, 0x2029]
)
_ESCAPE = re.compile(r"\\(?:\\|x[0-9a-f]{2}|u[0-9a-f]{4})")


def _escape_char(ch: str) -> str:
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte, kept by surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x20 or code == 0x7F:
        return f"\\x{code:02x}"
    if ch == "\\":
        return "\\\\"
    if 0xD800 <= code <= 0xDFFF or code in _UNSAFE_CODEPOINTS:
        return f"\\u{code:04x}"
    if unicodedata.category(ch) == "Cc":  # C1 controls
        return f"\\u{code:04x}"
    return ch


def safe_text(text: str) -> str:
    r"""``text`` with undecodable bytes as ``\xNN``, controls and bidi overrides as ``\xNN`` or
    ``\uNNNN``, and ``\`` doubled: printable, one line, and reversible by :func:`unescape`."""
    if text.isprintable() and "\\" not in text:
        return text
    return "".join(_escape_char(ch) for ch in text)


def unescape(text: str) -> str:
    """Invert :func:`safe_text` (``\\xNN`` above 0x7f becomes the undecodable byte again)."""

    def one(m: re.Match[str]) -> str:
        esc = m.group(0)
        if esc == "\\\\":
            return "\\"
        code = int(esc[2:], 16)
        if esc[1] == "x" and code >= 0x80:
            return chr(0xDC00 + code)
        return chr(code)

    return _ESCAPE.sub(one, text)


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 file``, ``2 files`` (``many`` for irregular plurals)."""
    return f"{count} {word if count == 1 else (many or word + 's')}"


def human_time(iso: str) -> str:
    """An ISO-8601 time as local time with its UTC offset, to the second."""
    try:
        when = datetime.fromisoformat(iso)
    except ValueError:
        return safe_text(iso)
    return when.astimezone().isoformat(sep=" ", timespec="seconds")


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def warn(message: str) -> None:
    click.echo(f"coffer: warning: {safe_text(message)}", err=True)


class SizeColumn(ProgressColumn):
    """``done/total`` in the same binary units as every summary (``109.4 MiB/115.3 MiB``)."""

    def render(self, task: Task) -> Text:
        total = f"/{human_bytes(task.total)}" if task.total is not None else ""
        return Text(f"{human_bytes(task.completed)}{total}", style="progress.download")


class SpeedColumn(ProgressColumn):
    """Transfer rate in binary units."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{human_bytes(speed)}/s", style="progress.data.speed")


class BarProgress(Progress):
    """Rich progress bar (bytes, files, rate, ETA) on a TTY; warnings always go to stderr.

    The label shows the phase (``backup``, ``restore``, ``rebuilding database chat.db``); the
    byte counts are clipped to the total and completed when the work succeeded
    (:class:`~coffer.engine.progress.Progress` explains why the engine's counts are estimates).
    """

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.warnings: list[str] = []
        self._bar: RichProgressBar | None = None
        self._task: TaskID | None = None
        self.started = time.monotonic()
        self._files_total = 0
        self._files_done = 0

    def start(self, total_bytes: int, total_files: int, label: str = "") -> None:
        self.started = time.monotonic()
        if not self.enabled:
            return
        self._bar = RichProgressBar(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            SizeColumn(),
            SpeedColumn(),
            TextColumn("{task.fields[files]}"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._bar.start()
        self._files_total = total_files
        self._files_done = 0
        self._task = self._bar.add_task(
            escape(label), total=total_bytes or None, files=f"0/{plural(total_files, 'file')}"
        )

    def advance(self, nbytes: int) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.advance(self._task, nbytes)

    def file_done(self, path: str) -> None:
        self._files_done += 1
        if self._bar is not None and self._task is not None:
            files = f"{self._files_done}/{plural(self._files_total, 'file')}"
            self._bar.update(self._task, files=files)

    def phase(self, label: str) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, description=escape(safe_text(label)))

    def complete(self) -> None:
        if self._bar is not None and self._task is not None:
            task = self._bar.tasks[0]
            if task.total is not None:
                self._bar.update(self._task, completed=task.total)
            self._bar.refresh()

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        if self._bar is not None:
            self._bar.console.print(f"[yellow]warning:[/] {escape(safe_text(message))}")
        else:
            warn(message)

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
