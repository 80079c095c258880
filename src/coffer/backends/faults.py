"""Fault injection for tests, as a backend decorator.

Rules:

- Calls are numbered from 1 across all operations listed in ``ops`` (default: all five);
  calls to other operations pass through unnumbered.
- ``fail_calls``: those call numbers raise :class:`TransientError` without reaching the inner
  backend. ``fail_rate``: each numbered call fails with that probability, drawn from a
  ``random.Random(seed)`` so a run is reproducible.
- ``drop_upload_calls``: a ``save`` with that number behaves like a connection dropped
  mid-upload — the inner backend gets nothing, so nothing becomes visible, and the caller gets
  :class:`TransientError`. ``lost_ack_calls``: the ``save`` reaches the inner backend, then the
  caller gets :class:`TransientError` anyway (the reply was lost); a retry must cope.
- ``truncate_calls``: a ``load`` with that number returns its data minus the last
  ``truncate_by`` bytes — a lying backend, which the layer above must catch (AEAD, sizes).
- ``delay``: seconds slept (with the injectable ``sleep``) before every numbered call.
- ``calls`` and ``injected`` count what happened, for assertions.

Theory of operation: the decorator overrides the operations that need the call number and
:meth:`Wrapper._call` for the rest. A lock makes numbering exact under threads.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Collection
from typing import TypeVar

from coffer.backends.base import Backend, ObjectType, TransientError
from coffer.backends.wrapper import OPERATIONS, Wrapper

T = TypeVar("T")


class FaultInjector(Wrapper):
    """Inject failures into ``inner``; see the module docstring."""

    def __init__(
        self,
        inner: Backend,
        *,
        fail_calls: Collection[int] = (),
        fail_rate: float = 0.0,
        seed: int = 0,
        ops: Collection[str] = OPERATIONS,
        drop_upload_calls: Collection[int] = (),
        lost_ack_calls: Collection[int] = (),
        truncate_calls: Collection[int] = (),
        truncate_by: int = 1,
        delay: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(inner)
        unknown = set(ops) - OPERATIONS
        if unknown:
            raise ValueError(f"unknown operations: {sorted(unknown)}")
        self.fail_calls = frozenset(fail_calls)
        self.fail_rate = fail_rate
        self.ops = frozenset(ops)
        self.drop_upload_calls = frozenset(drop_upload_calls)
        self.lost_ack_calls = frozenset(lost_ack_calls)
        self.truncate_calls = frozenset(truncate_calls)
        self.truncate_by = truncate_by
        self.delay = delay
        self._sleep = sleep
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.calls = 0
        self.injected = 0

    def _next(self, op: str) -> tuple[int, bool]:
        """Number this call; return (number, whether it must fail)."""
        if op not in self.ops:
            return 0, False
        with self._lock:
            self.calls += 1
            n = self.calls
            fail = n in self.fail_calls or (
                self.fail_rate > 0 and self._rng.random() < self.fail_rate
            )
            if fail:
                self.injected += 1
        if self.delay:
            self._sleep(self.delay)
        return n, fail

    def _count_injected(self) -> None:
        with self._lock:
            self.injected += 1

    def _call(self, op: str, what: str, fn: Callable[[], T]) -> T:
        n, fail = self._next(op)
        if fail:
            raise TransientError(f"injected fault: {op} {what} (call {n})")
        return fn()

    def save(self, kind: ObjectType, name: str, data: bytes, *, overwrite: bool = False) -> None:
        what = f"{kind.value}/{name}"
        n, fail = self._next("save")
        if fail:
            raise TransientError(f"injected fault: save {what} (call {n})")
        if n in self.drop_upload_calls:
            self._count_injected()
            raise TransientError(f"injected fault: connection dropped uploading {what}")
        self.inner.save(kind, name, data, overwrite=overwrite)
        if n in self.lost_ack_calls:
            self._count_injected()
            raise TransientError(f"injected fault: reply lost after uploading {what}")

    def load(
        self, kind: ObjectType, name: str, offset: int = 0, length: int | None = None
    ) -> bytes:
        what = f"{kind.value}/{name}"
        n, fail = self._next("load")
        if fail:
            raise TransientError(f"injected fault: load {what} (call {n})")
        data = self.inner.load(kind, name, offset, length)
        if n in self.truncate_calls:
            self._count_injected()
            return data[: max(0, len(data) - self.truncate_by)]
        return data
