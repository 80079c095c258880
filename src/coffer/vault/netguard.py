"""Slow and greedy clients: connection caps and read deadlines under the web server.

Rules (per worker process; see :class:`GuardLimits` for the defaults):

- At most ``max_per_address`` open connections from one client address (trusted proxies are
  exempt, since every client behind them shares their address): one more gets ``503`` with
  ``Connection: close`` at once and costs nothing more.
- At most ``max_connections`` open connections in all (never more than the process's open-file
  limit allows, less a reserve for the database and logs). When that is full, a new connection
  evicts the oldest connection that is still *sending its request* (a slow client holds a slot
  only until someone needs it); only if every connection is busy being answered does the new
  one get the ``503``.
- A request — request line, headers and body — must arrive completely within ``read_timeout``
  seconds of its first byte (or of the connection's opening); otherwise the connection is
  closed. This is what stops a client that sends one byte a minute: uvicorn's own keep-alive
  timeout only runs *between* requests and not at all before the first one.
- A response leaves in one ``send`` (head and body together, :class:`OneWritePerResponse`).
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
import resource
from collections import Counter, OrderedDict
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

    FD_RESERVE = 64  # files the process needs besides client sockets (database, logs, …)

    def __init__(self, limits: GuardLimits) -> None:
        self.limits = limits
        self.max_connections = min(limits.max_connections, _fd_budget(self.FD_RESERVE))
        self.total = 0
        self.by_address: Counter[str] = Counter()
        self.reading: OrderedDict[int, GuardedProtocol] = OrderedDict()  # oldest first

    def _exempt(self, host: str) -> bool:
        ip = _ip(host)
        return ip is not None and _trusted(ip, self.limits.trusted_proxies)

    def admit(self, host: str) -> bool:
        if not self._exempt(host) and self.by_address[host] >= self.limits.max_per_address:
            METRICS.refused.labels("address-cap").inc()
            return False
        if self.total >= self.max_connections:
            if not self.reading:
                METRICS.refused.labels("total-cap").inc()
                return False
            _, victim = self.reading.popitem(last=False)
            METRICS.refused.labels("evicted-slow").inc()
            victim.evict()
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
        wrapped = OneWritePerResponse(transport, asyncio.get_running_loop())
        super().connection_made(wrapped)  # type: ignore[arg-type]
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
            self.guard.reading[id(self)] = self

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self.guard.reading.pop(id(self), None)

    def evict(self) -> None:
        """Give this (slow) connection's slot to a newcomer: release it now, close it."""
        self._disarm()
        if self._admitted:
            self._admitted = False
            self.guard.release(self._host)
        if not self.transport.is_closing():
            self.transport.close()

    def _too_slow(self) -> None:
        self._deadline = None
        self.guard.reading.pop(id(self), None)
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


def _fd_budget(reserve: int) -> int:
    """Client sockets the open-file limit leaves room for (raising the soft limit if it can)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return max(16, soft - reserve)


def protocol_class(limits: GuardLimits, base: type[GuardedProtocol] = GuardedProtocol) -> type[Any]:
    """A subclass of ``base`` bound to a fresh guard (pass it as uvicorn's ``http=``)."""
    guard = ConnectionGuard(limits)
    return type("VaultHttpProtocol", (base,), {"guard": guard})


class OneWritePerResponse:
    """A transport that sends a response's status line and headers together with its body.

    uvicorn writes the head and the body of a response with two ``write`` calls, so every
    response costs two ``send`` system calls and two TCP segments (and often two wake-ups of
    the client). The head is held until the next write in the same event-loop turn — ASGI apps
    send the body right after the head without yielding — and otherwise flushed by a callback at
    the end of that turn (a ``HEAD`` response has no body write), so nothing is ever held longer.
    """

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._head: bytes | None = None

    def write(self, data: bytes) -> None:
        if self._head is not None:
            data, self._head = self._head + data, None
        elif data.startswith(b"HTTP/1.1 ") and not data.startswith(b"HTTP/1.1 1"):
            self._head = data
            self._loop.call_soon(self._flush)
            return
        self._transport.write(data)

    def write_whole(self, data: bytes) -> None:
        """Write a complete response (head and body) at once."""
        self._flush()
        self._transport.write(data)

    def _flush(self) -> None:
        if self._head is not None:
            data, self._head = self._head, None
            if not self._transport.is_closing():
                self._transport.write(data)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)
