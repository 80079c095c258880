"""Output helpers: human text or JSON, progress bars only on a terminal, sizes for humans."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.progress import Progress as RichProgressBar

from coffer.engine.progress import Progress


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def warn(message: str) -> None:
    click.echo(f"coffer: warning: {message}", err=True)


class BarProgress(Progress):
    """Rich progress bar (bytes, files, rate, ETA) on a TTY; warnings always go to stderr."""

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
            TextColumn(f"[bold]{label}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TextColumn("{task.fields[files]} files"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._bar.start()
        self._files_total = total_files
        self._files_done = 0
        self._task = self._bar.add_task(label, total=total_bytes or None, files=f"0/{total_files}")

    def advance(self, nbytes: int) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.advance(self._task, nbytes)

    def file_done(self, path: str) -> None:
        self._files_done += 1
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, files=f"{self._files_done}/{self._files_total}")

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        if self._bar is not None:
            self._bar.console.print(f"[yellow]warning:[/] {message}")
        else:
            warn(message)

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
