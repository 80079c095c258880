"""Slow and greedy clients: connection caps and read deadlines under the web server.

Rules (per worker process; see :class:`GuardLimits` for the defaults):

- At most ``max_connections`` open connections in all, and ``max_per_address`` from one client
  address (trusted proxies are exempt from the per-address cap, since every client behind them
  shares their address). A connection over a cap gets ``503`` with ``Connection: close`` at once
  and costs nothing more.
- A request — request line, headers and body — must arrive completely within ``read_timeout``
  seconds of its first byte (or of the connection's opening); otherwise the connection is
  closed. This is what stops a client that sends one byte a minute: uvicorn's own keep-alive
  timeout only runs *between* requests and not at all before the first one.
- An idle keep-alive connection is closed after ``keepalive_timeout`` (uvicorn's timer), and a
  connection serves at most ``max_requests_per_connection`` requests before the response says
  ``Connection: close``.

Theory: a subclass of uvicorn's httptools protocol adds the bookkeeping at the four points where
a connection opens, a request starts, a request is complete and a connection is lost; the
shared counts live in one :class:`ConnectionGuard` per process (the event loop is single
threaded, so plain integers suffice).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from coffer.vault.clientaddr import Network, _ip, _trusted
from coffer.vault.metrics import METRICS

_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
    b"connection: close\r\ncontent-length: 70\r\n\r\n"
    b'{"error": "unavailable", "message": "too many connections; try later"}'
)


@dataclass(frozen=True)
class GuardLimits:
    max_connections: int = 2000
    max_per_address: int = 64
    read_timeout: float = 10.0
    keepalive_timeout: float = 15.0
    max_requests_per_connection: int = 1000
    trusted_proxies: tuple[Network, ...] = field(default_factory=tuple)


class ConnectionGuard:
    """Counts open connections in total and per address (one per process)."""

    def __init__(self, limits: GuardLimits) -> None:
        self.limits = limits
        self.total = 0
        self.by_address: Counter[str] = Counter()

    def _exempt(self, host: str) -> bool:
        ip = _ip(host)
        return ip is not None and _trusted(ip, self.limits.trusted_proxies)

    def admit(self, host: str) -> bool:
        if self.total >= self.limits.max_connections:
            METRICS.refused.labels("total-cap").inc()
            return False
        if not self._exempt(host) and self.by_address[host] >= self.limits.max_per_address:
            METRICS.refused.labels("address-cap").inc()
            return False
        self.total += 1
        self.by_address[host] += 1
        return True

    def release(self, host: str) -> None:
        self.total -= 1
        self.by_address[host] -= 1
        if self.by_address[host] <= 0:
            del self.by_address[host]


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the caps and deadlines of the module rules."""

    guard: ConnectionGuard  # set on the subclass :func:`protocol_class` makes

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._host = self.client[0] if self.client else ""
        self._admitted = self.guard.admit(self._host)
        self._deadline: asyncio.TimerHandle | None = None
        self._served = 0
        if not self._admitted:
            transport.write(_BUSY)
            transport.close()
            return
        self._arm()

    def _arm(self) -> None:
        if self._deadline is None:
            self._deadline = self.loop.call_later(self.guard.limits.read_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        METRICS.refused.labels("read-timeout").inc()
        if not self.transport.is_closing():
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if not self._admitted:
            return
        if self.cycle is None or self.cycle.response_complete:
            self._arm()  # the first bytes of a new request: it must be complete in time
        super().data_received(data)

    def on_message_complete(self) -> None:
        self._disarm()
        self._served += 1
        if self.cycle is not None and self._served >= self.guard.limits.max_requests_per_connection:
            self.cycle.keep_alive = False
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._admitted:
            self._admitted = False
            self.guard.release(self._host)
        super().connection_lost(exc)


def protocol_class(limits: GuardLimits) -> type[Any]:
    """A protocol class bound to a fresh guard (pass it as uvicorn's ``http=``)."""
    guard = ConnectionGuard(limits)
    return type("VaultHttpProtocol", (GuardedProtocol,), {"guard": guard})
