"""Progress reporting hooks: the engine calls them, the CLI draws them (or not)."""

from __future__ import annotations


class Progress:
    """No-op progress sink; the CLI subclasses it with a rich progress bar."""

    def start(self, total_bytes: int, total_files: int, label: str = "") -> None:
        """Work of ``total_bytes`` over ``total_files`` is about to begin."""

    def advance(self, nbytes: int) -> None:
        """``nbytes`` more were processed."""

    def file_done(self, path: str) -> None:
        """One more file finished."""

    def warn(self, message: str) -> None:
        """A non-fatal problem (skipped file, damaged object) to show the user."""

    def finish(self) -> None:
        """The work is over."""


class CollectingProgress(Progress):
    """Collects warnings; used by tests and ``--json`` output."""

    def __init__(self) -> None:
        self.warnings: list[str] = []
        self.bytes = 0
        self.files = 0

    def advance(self, nbytes: int) -> None:
        self.bytes += nbytes

    def file_done(self, path: str) -> None:
        self.files += 1

    def warn(self, message: str) -> None:
        self.warnings.append(message)
