"""Progress reporting hooks: the engine calls them, the CLI draws them (or not).

Byte counts are estimates: a backup's total is the sum of the files' sizes at the start, but a
database is stored as its dump (larger or smaller than the file) and a file may grow while it is
read. :class:`Bounded` keeps the reported bytes within the total and lets an operation fill the
bar when it succeeded, so a bar never stops at 95% nor shows 120%.
"""

from __future__ import annotations


class Progress:
    """No-op progress sink; the CLI subclasses it with a rich progress bar."""

    def start(self, total_bytes: int, total_files: int, label: str = "") -> None:
        """Work of ``total_bytes`` over ``total_files`` is about to begin."""

    def advance(self, nbytes: int) -> None:
        """``nbytes`` more were processed."""

    def file_done(self, path: str) -> None:
        """One more file finished."""

    def item(self, path: str, action: str, size: int) -> None:
        """One entry was handled: ``new``, ``changed`` or ``unchanged`` (backup), ``restored``
        (restore); ``size`` in bytes. Called just before :meth:`file_done`."""

    def phase(self, label: str) -> None:
        """The work entered a phase worth naming (e.g. "rebuilding database chat.db")."""

    def complete(self) -> None:
        """All the work succeeded: show the bar full."""

    def warn(self, message: str) -> None:
        """A non-fatal problem (skipped file, damaged object) to show the user."""

    def finish(self) -> None:
        """The work is over."""


class Bounded(Progress):
    """Forwards to ``inner``, keeping the bytes reported between 0 and the announced total."""

    def __init__(self, inner: Progress) -> None:
        self.inner = inner
        self.total = 0
        self.done = 0

    def start(self, total_bytes: int, total_files: int, label: str = "") -> None:
        self.total, self.done = total_bytes, 0
        self.inner.start(total_bytes, total_files, label)

    def advance(self, nbytes: int) -> None:
        step = max(0, min(nbytes, self.total - self.done))
        if step:
            self.done += step
            self.inner.advance(step)

    def file_done(self, path: str) -> None:
        self.inner.file_done(path)

    def item(self, path: str, action: str, size: int) -> None:
        self.inner.item(path, action, size)

    def phase(self, label: str) -> None:
        self.inner.phase(label)

    def complete(self) -> None:
        self.advance(self.total - self.done)
        self.inner.complete()

    def warn(self, message: str) -> None:
        self.inner.warn(message)

    def finish(self) -> None:
        self.inner.finish()


class CollectingProgress(Progress):
    """Collects warnings and phases; used by tests and ``--json`` output."""

    def __init__(self) -> None:
        self.warnings: list[str] = []
        self.phases: list[str] = []
        self.bytes = 0
        self.files = 0
        self.total = 0

    def start(self, total_bytes: int, total_files: int, label: str = "") -> None:
        self.total = total_bytes
        self.phases.append(label)

    def advance(self, nbytes: int) -> None:
        self.bytes += nbytes

    def file_done(self, path: str) -> None:
        self.files += 1

    def phase(self, label: str) -> None:
        self.phases.append(label)

    def warn(self, message: str) -> None:
        self.warnings.append(message)
