"""The guard in front of every request: token, Host, method; and the headers on every answer.

Rules:
- The first path segment must equal the session token (compared in constant time); anything
  else is a bare 404 that says nothing about what exists. The token is 32 random bytes
  (URL-safe base64), made per command, never written anywhere but the printed URL.
- ``Host`` must be ``127.0.0.1:PORT`` or ``localhost:PORT`` (a DNS-rebinding page on another
  name reaches the socket but not the app).
- Only GET and HEAD: the browser is read-only.
- Every answer carries a strict CSP (no inline script or style, nothing from elsewhere, no
  framing), ``nosniff``, ``no-referrer`` (the token never leaves in a Referer), ``no-store``
  and same-origin isolation headers; there are no CORS headers, so no other origin can read.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "media-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
)


def new_token() -> str:
    return secrets.token_urlsafe(32)


class Guard:
    """ASGI middleware enforcing the rules above, then stripping ``/<token>`` from the path."""

    def __init__(self, app: ASGIApp, token: str, hosts: set[str]) -> None:
        self.app = app
        self.token = token.encode()
        self.hosts = hosts  # filled in once the port is known

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":
            return  # no websockets
        reason = self._refuse(scope)
        if reason is not None:
            await _plain(send, *reason)
            return
        path: str = scope["path"]
        rest = path[len(self.token) + 1 :] or "/"
        scope = dict(scope, path=rest, raw_path=rest.encode("utf-8", "surrogateescape"))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in HEADERS if k not in names]
                message = dict(message, headers=[*message.get("headers", []), *extra])
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _refuse(self, scope: Scope) -> tuple[int, bytes] | None:
        headers = dict(scope.get("headers", []))
        host = headers.get(b"host", b"").decode("latin-1").lower()
        if host not in self.hosts:
            return 421, b"wrong Host header"
        path: str = scope["path"]
        segment = path[1:].split("/", 1)[0].encode("utf-8", "surrogateescape")
        if not path.startswith("/") or not hmac.compare_digest(segment, self.token):
            return 404, b"not found"
        if scope["method"] not in ("GET", "HEAD"):
            return 405, b"read-only"
        return None


async def _plain(send: Send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()), *HEADERS]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})
