"""Glue between SQLite's logical mode and the engine's streaming chunker and restorer.

Rules:
- :func:`dump_stream` runs :func:`~coffer.engine.sqlite_logical.dump_logical` in a thread that
  writes into a pipe; the caller reads the other end. Memory is one pipe buffer, never the whole
  dump. An error in the dump is re-raised in the caller when the stream ends; if the caller
  stops early, closing the read end makes the dump fail with a broken pipe and end.
- :class:`BlobStream` presents a file's blobs, fetched and verified one run at a time, as one
  readable stream for :func:`~coffer.engine.sqlite_logical.restore_logical`.
"""

from __future__ import annotations

import contextlib
import io
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from coffer.engine.sqlite_logical import dump_logical


@contextlib.contextmanager
def dump_stream(db_path: Path) -> Iterator[BinaryIO]:
    """Yield a readable stream of the logical dump of ``db_path``."""
    rfd, wfd = os.pipe()
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            with open(wfd, "wb", buffering=1 << 20) as out:
                dump_logical(db_path, out)
        except BaseException as exc:  # re-raised in the consumer
            failure.append(exc)

    thread = threading.Thread(target=produce, name="coffer-sqlite-dump", daemon=True)
    reader = open(rfd, "rb", buffering=1 << 20)  # noqa: SIM115 - closed below
    thread.start()
    try:
        yield reader
    finally:
        reader.close()
        thread.join()
    if failure and not isinstance(failure[0], BrokenPipeError):
        raise failure[0]


class BlobStream(io.RawIOBase):
    """A read-only stream over an iterator of byte strings."""

    def __init__(self, parts: Iterator[bytes]) -> None:
        self._parts = parts
        self._current = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._current:
            part = next(self._parts, None)
            if part is None:
                return 0
            self._current = memoryview(part)
        n = min(len(buffer), len(self._current))
        buffer[:n] = self._current[:n]
        self._current = self._current[n:]
        return n
