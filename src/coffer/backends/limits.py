"""Concurrency and bandwidth limits, as a backend decorator.

Rules:

- At most ``connections`` operations (default 4) run on the inner backend at once; the others
  wait. This is the knob behind parallel uploads: the engine may submit from many threads.
- ``upload_kib`` / ``download_kib`` (KiB/s, ``None`` = unlimited) cap the average rate of object
  bytes written by ``save`` and read by ``load``; listings and stats are not metered.
- Limits are shared by every thread using the backend (one bucket per direction).

Theory of operation: a token bucket per direction holds at most one second of tokens. A
transfer of ``n`` bytes takes tokens in pieces of at most the bucket size, sleeping until each
piece is available. Upload bytes are paid before the inner ``save`` (pacing the start of each
object), download bytes after the inner ``load`` returns; over many objects the average rate is
the limit. This mirrors restic's ``--limit-upload``/``--limit-download`` at object granularity.
``clock`` and ``sleep`` are injectable for tests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from coffer.backends.base import Backend, ObjectType
from coffer.backends.wrapper import Wrapper

T = TypeVar("T")


class TokenBucket:
    """A thread-safe token bucket of ``rate`` bytes per second and one second of burst."""

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = rate
        self._clock = clock
        self._sleep = sleep
        self._tokens = rate
        self._stamp = clock()
        self._lock = threading.Lock()

    def _take(self, want: float) -> float:
        """Take ``want`` tokens now if possible (return 0) or return how long to wait."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._tokens >= want:
                self._tokens -= want
                return 0.0
            return (want - self._tokens) / self.rate

    def consume(self, amount: int) -> None:
        """Block until ``amount`` bytes' worth of tokens has been taken."""
        remaining = float(amount)
        while remaining > 0:
            piece = min(remaining, self.capacity)
            wait = self._take(piece)
            if wait > 0:
                self._sleep(wait)
                continue
            remaining -= piece


class LimitedBackend(Wrapper):
    """Bound concurrency and bandwidth of ``inner``; see the module docstring."""

    def __init__(
        self,
        inner: Backend,
        *,
        connections: int = 4,
        upload_kib: float | None = None,
        download_kib: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(inner)
        if connections < 1:
            raise ValueError("connections must be at least 1")
        self.connections = connections
        self._slots = threading.BoundedSemaphore(connections)
        self.upload = self._bucket(upload_kib, clock, sleep)
        self.download = self._bucket(download_kib, clock, sleep)

    @staticmethod
    def _bucket(
        kib: float | None, clock: Callable[[], float], sleep: Callable[[float], None]
    ) -> TokenBucket | None:
        return None if kib is None else TokenBucket(kib * 1024, clock=clock, sleep=sleep)

    def _call(self, op: str, what: str, fn: Callable[[], T]) -> T:
        with self._slots:
            return fn()

    def save(self, kind: ObjectType, name: str, data: bytes, *, overwrite: bool = False) -> None:
        if self.upload is not None:
            self.upload.consume(len(data))
        super().save(kind, name, data, overwrite=overwrite)

    def load(
        self, kind: ObjectType, name: str, offset: int = 0, length: int | None = None
    ) -> bytes:
        data = super().load(kind, name, offset, length)
        if self.download is not None:
            self.download.consume(len(data))
        return data
