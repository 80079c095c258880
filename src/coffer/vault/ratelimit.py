"""In-process token buckets for request rate limits (per account and per client address).

Rules: a bucket holds at most ``burst`` tokens and refills at ``rate`` tokens per second; a request
takes one token or is refused with the number of whole seconds until one is available (the HTTP
layer sends it as ``Retry-After``). These buckets live in one process's memory: they serve the
embedded vault and tests that pass explicit limits. A deployment's nodes use the buckets shared
through the store instead (:func:`coffer.vault.store_admin.rate_take`), so the limit holds across
nodes. Either is a brake on abuse and load, not a security bound — the guess limit in the
database is the bound. The table is capped at
``max_keys`` buckets; the oldest (least recently used) bucket is dropped first.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    """``rate`` requests per second on average, ``burst`` at once; rate 0 disables the limit."""

    rate: float
    burst: int


class RateLimiter:
    """Thread-safe token buckets keyed by strings such as ``"addr:1.2.3.4"``."""

    def __init__(
        self, limit: Limit, *, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000
    ) -> None:
        self.limit = limit
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> int:
        """Take a token for ``key``: 0 if allowed, else seconds to wait (≥ 1)."""
        if self.limit.rate <= 0:
            return 0
        now = self.clock()
        with self._lock:
            tokens, then = self._buckets.pop(key, (float(self.limit.burst), now))
            tokens = min(float(self.limit.burst), tokens + (now - then) * self.limit.rate)
            if tokens >= 1.0:
                self._remember(key, tokens - 1.0, now)
                return 0
            self._remember(key, tokens, now)
            return max(1, math.ceil((1.0 - tokens) / self.limit.rate))

    def _remember(self, key: str, tokens: float, now: float) -> None:
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
