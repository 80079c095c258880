"""Retry with exponential backoff and jitter, as a backend decorator.

Rules:

- Only :class:`TransientError` is retried; every other error (not found, exists, short read,
  append-only, permission, disk full, config) surfaces at once, unchanged, on the first attempt.
- At most ``attempts`` tries per operation; the last transient error is re-raised as a
  :class:`TransientError` saying how many attempts were made, chained to the original.
- The delay before try ``n + 1`` is ``min(max_delay, base_delay * 2**(n-1))`` scaled by a
  random factor in ``[0.5, 1]`` ("equal jitter"), so many clients do not retry in lock-step.
- A ``save`` retried after a transient failure may find its own first attempt stored (the
  connection dropped after the server had the object). On a retry, an :class:`ObjectExists`
  counts as success when the stored bytes equal ours (read back to compare; rare path).
- ``sleep`` and the RNG are injectable so tests run without waiting.

Theory of operation: restic's ``internal/backend/retry``; the decorator overrides
:meth:`Wrapper._call`, so every operation is covered by one loop.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from coffer.backends.base import Backend, ObjectExists, ObjectType, TransientError
from coffer.backends.wrapper import Wrapper

T = TypeVar("T")


class RetryBackend(Wrapper):
    """Retry transient failures of ``inner``; see the module docstring."""

    def __init__(
        self,
        inner: Backend,
        *,
        attempts: int = 6,
        base_delay: float = 0.5,
        max_delay: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(inner)
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.attempts = attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.retries = 0
        """How many retries this backend has made (for progress output and tests)."""

    def delay(self, attempt: int) -> float:
        """The pause after failed attempt number ``attempt`` (1-based)."""
        ceiling: float = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        return ceiling * self._rng.uniform(0.5, 1.0)

    def _call(self, op: str, what: str, fn: Callable[[], T]) -> T:
        for attempt in range(1, self.attempts + 1):
            try:
                return fn()
            except TransientError as exc:
                if attempt == self.attempts:
                    raise TransientError(
                        f"{op} {what}: gave up after {attempt} attempts: {exc}"
                    ) from exc
            self.retries += 1
            self._sleep(self.delay(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def save(self, kind: ObjectType, name: str, data: bytes, *, overwrite: bool = False) -> None:
        tries = 0

        def attempt() -> None:
            nonlocal tries
            tries += 1
            try:
                self.inner.save(kind, name, data, overwrite=overwrite)
            except ObjectExists:
                if tries == 1 or self.inner.load(kind, name) != data:
                    raise

        self._call("save", f"{kind.value}/{name}", attempt)
