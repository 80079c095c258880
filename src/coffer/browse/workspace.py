"""The private temporary folder where a snapshot's databases are rebuilt, and how it goes away.

Rules: one folder per command, created by :func:`tempfile.mkdtemp` (mode 0700, owner only) under
the system's temp folder — never under the user's folders —, removed by :meth:`Workspace.close`.
The CLI closes it in a ``finally`` and turns SIGTERM and SIGHUP into :class:`KeyboardInterrupt`
(:func:`exit_on_signals`), so Ctrl-C, ``kill`` and a closed terminal all remove it; an
``atexit`` hook covers an interpreter that ends some other way. Only a SIGKILL leaves it behind.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import FrameType


class Workspace:
    """A 0700 temporary folder that removes itself."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="coffer-browse-"))
        os.chmod(self.root, 0o700)
        self._closed = False
        atexit.register(self.close)

    def path(self, name: str) -> Path:
        return self.root / name

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        shutil.rmtree(self.root, ignore_errors=True)
        atexit.unregister(self.close)

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def exit_on_signals() -> Iterator[None]:
    """Make SIGTERM and SIGHUP unwind like Ctrl-C (so ``finally`` blocks run) while inside."""
    previous = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(ValueError, OSError):  # not in the main thread
            previous[sig] = signal.signal(sig, _raise_interrupt)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
