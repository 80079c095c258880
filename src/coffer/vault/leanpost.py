"""Plain JSON POSTs to the vault's POST routes, answered by the HTTP protocol itself.

Why: a login is two POSTs, and uvicorn's ASGI cycle around each (a ``RequestResponseCycle``
with its ``asyncio.Event``, the ``receive``/``send`` message dicts, per-header checks of the
response, a deferred head write) cost the node more CPU than parsing and answering the request
does. Here such a request goes from the parser's callbacks straight to
:meth:`coffer.vault.asgi_post.PostFront.answer` — the same code that answers it on the ASGI path,
so the status, body, extra headers, metrics and log line are the same — and its response leaves
in one write, byte for byte what uvicorn would have written.

Rules:

- Only an unambiguous request takes this path: method ``POST``, a path that is exactly one of
  the front's routes (no query, no escapes), ``Content-Type: application/json``, a declared
  ``Content-Length`` of at most ``MAX_BODY``, no ``Transfer-Encoding``, no ``Expect``, no
  upgrade, and no earlier response still owed on the connection. Everything else — other
  methods, chunked or oversized bodies, other media types, pipelined requests behind an
  unanswered one — goes through uvicorn's ASGI cycle to the same front, which answers every odd
  case.
- A request on this path keeps uvicorn's connection semantics: keep-alive unless HTTP/1.0 or
  ``Connection: close`` (then the response says ``connection: close`` and the connection
  closes after it), ``max_requests_per_connection`` and server shutdown (both turn keep-alive
  off; a request being answered is finished first), pipelining (a request arriving behind this
  one waits, as uvicorn queues it, and starts when this response has left), write back-pressure
  (the response waits for the transport to drain), and a client gone before its answer (the
  answer is dropped; what the store did stands, as on the ASGI path).
- Each answer runs as a task in uvicorn's task set, so a graceful shutdown waits for it.

Theory: :class:`LeanPostProtocol` extends the guarded protocol of :mod:`coffer.vault.netguard`
at three parser callbacks. ``on_headers_complete`` decides; if the request is taken, the
connection's current cycle becomes a :class:`_LeanCycle` — an object with exactly the attributes
uvicorn's protocol reads of a cycle (``response_complete``, ``keep_alive``, ``disconnected``,
``more_body``, ``message_event``) — so uvicorn's own pipelining, shutdown and disconnect code keeps
working unchanged. ``on_body`` collects the body, ``on_message_complete`` starts the answer.
"""

from __future__ import annotations

import time
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE

from coffer.vault.asgi_post import MAX_BODY, Endpoint, PostFront, is_json_media, parse_body
from coffer.vault.netguard import GuardedProtocol

_JSON_HEAD = b"content-type: application/json\r\ncontent-length: "
_REFUSING = (b"transfer-encoding", b"expect", b"upgrade")


class _NoEvent:
    """Stands in for a cycle's ``message_event``: nothing waits on a lean cycle's body."""

    @staticmethod
    def set() -> None:
        return None


class _LeanCycle:
    """One request answered here, with the cycle attributes uvicorn's protocol reads."""

    __slots__ = (
        "body",
        "disconnected",
        "endpoint",
        "headers",
        "keep_alive",
        "message_event",
        "more_body",
        "path",
        "response_complete",
    )

    def __init__(
        self, endpoint: Endpoint, path: str, headers: dict[bytes, bytes], keep_alive: bool
    ) -> None:
        self.endpoint = endpoint
        self.path = path
        self.headers = headers
        self.body: list[bytes] = []
        self.keep_alive = keep_alive
        self.response_complete = False
        self.disconnected = False
        self.more_body = True
        self.message_event = _NoEvent


class LeanPostProtocol(GuardedProtocol):
    """The guarded protocol, answering plain JSON POSTs to the front's routes itself."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        front = self.app
        self._front = front if isinstance(front, PostFront) else None
        self._lean_routes = (
            {path.encode(): (path, ep) for path, ep in front.routes.items()}
            if isinstance(front, PostFront)
            else {}
        )

    def on_headers_complete(self) -> None:
        cycle = self._take() if self._front is not None else None
        if cycle is None:
            super().on_headers_complete()
        else:
            self.cycle = cycle  # type: ignore[assignment]

    def _take(self) -> _LeanCycle | None:
        """A lean cycle for this request, or None if it is not unambiguously ours."""
        route = self._lean_routes.get(self.url)
        if route is None or (self.cycle is not None and not self.cycle.response_complete):
            return None
        parser = self.parser
        if parser.get_method() != b"POST" or parser.should_upgrade():
            return None
        headers = dict(self.headers)
        if len(headers) != len(self.headers) or any(h in headers for h in _REFUSING):
            return None  # repeated or framing headers: uvicorn's cycle decides
        declared = headers.get(b"content-length")
        if declared is None or not declared.isdigit() or int(declared) > MAX_BODY:
            return None
        media = headers.get(b"content-type", b"")
        if media != b"application/json" and not is_json_media(media):
            return None
        keep_alive = parser.get_http_version() != "1.0" and parser.should_keep_alive()
        return _LeanCycle(route[1], route[0], headers, keep_alive)

    def on_body(self, body: bytes) -> None:
        cycle = self.cycle
        if isinstance(cycle, _LeanCycle):
            cycle.body.append(body)
        else:
            super().on_body(body)

    def on_message_complete(self) -> None:
        super().on_message_complete()  # the guard's bookkeeping (and uvicorn's, a no-op here)
        cycle = self.cycle
        if isinstance(cycle, _LeanCycle) and not cycle.response_complete:
            task = self.loop.create_task(self._answer(cycle))
            task.add_done_callback(self.tasks.discard)
            self.tasks.add(task)

    async def _answer(self, cycle: _LeanCycle) -> None:
        front = self._front
        assert front is not None
        start = time.perf_counter()
        peer = self.client[0] if self.client else ""
        client = front.api.client_of(peer, cycle.headers.get(b"x-forwarded-for"))
        raw = cycle.body[0] if len(cycle.body) == 1 else b"".join(cycle.body)
        cycle.body = []

        async def body() -> dict[str, Any]:
            return parse_body(raw)

        try:
            status, payload, extra = await front.answer(cycle.endpoint, "POST", client, body)
            if self.flow.write_paused and not cycle.disconnected:
                await self.flow.drain()
        except BaseException:
            cycle.response_complete = True
            self.transport.close()
            raise
        if not cycle.disconnected and not self.transport.is_closing():
            self._write(cycle, status, payload, extra)
        cycle.response_complete = True
        if not cycle.keep_alive:
            self.transport.close()
        self.on_response_complete()
        front.record("POST", cycle.path, status, start, client, extra)

    def _write(
        self, cycle: _LeanCycle, status: int, payload: bytes, extra: list[tuple[bytes, bytes]]
    ) -> None:
        parts = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            parts += (name, b": ", value, b"\r\n")
        parts += (_JSON_HEAD, b"%d\r\n" % len(payload))
        for name, value in extra:
            parts += (name, b": ", value, b"\r\n")
        if not cycle.keep_alive:
            parts.append(b"connection: close\r\n")
        parts += (b"\r\n", payload)
        self.transport.write_whole(b"".join(parts))  # type: ignore[attr-defined]
