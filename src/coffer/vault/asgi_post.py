"""The vault's POST endpoints as a bare ASGI layer in front of the Starlette app.

Why: every login is two POSTs, and Starlette's layers (two middlewares, the router, a
``Request``, a ``JSONResponse``) cost a node more CPU per request than parsing and answering the
request itself. This layer answers exactly as the Starlette endpoints did — the same checks in
the same order, the same statuses, bodies and headers (:func:`coffer.vault.app.error_parts`),
the same metrics and log line — and hands everything else (GET routes, unknown paths, lifespan)
to Starlette.

Rules (in order, for a path in the table): another method than POST is a JSON 405; the body
must say ``Content-Type: application/json`` (415); a declared or actual body over ``MAX_BODY``
is 413; JSON nested deeper than ``MAX_DEPTH`` or not an object is 400; then the endpoint runs.
A client that disconnects before its body is complete gets no answer.

A plain JSON POST to one of these routes usually does not come through ASGI at all: the node's
HTTP protocol (:mod:`coffer.vault.leanpost`) calls :meth:`PostFront.answer` itself, so both
ways give the same answer.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Receive, Scope, Send

from coffer.vault.errors import BadRequest, TooLarge, UnsupportedMediaType

if TYPE_CHECKING:
    from coffer.vault.app import _Api

# an endpoint: (decoded body, client address) -> the JSON answer
Endpoint = Callable[[dict[str, Any], str], Awaitable[dict[str, Any]]]

MAX_BODY = 4096
MAX_DEPTH = 8
_JSON = (b"content-type", b"application/json")
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


class _Disconnected(Exception):
    """The client went away before its request body was complete."""


class PostFront:
    """ASGI entry point: POST routes here, everything else to ``fallback``."""

    def __init__(self, api: _Api, routes: dict[str, Endpoint], fallback: ASGIApp) -> None:
        self.api = api
        self.routes = routes
        self.fallback = fallback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self.routes.get(scope["path"]) if scope["type"] == "http" else None
        if endpoint is None:
            await self.fallback(scope, receive, send)
            return
        start = time.perf_counter()
        headers = dict(scope["headers"])
        peer = scope["client"][0] if scope.get("client") else ""
        client = self.api.client_of(peer, headers.get(b"x-forwarded-for"))
        method, path = scope["method"], scope["path"]

        async def body() -> dict[str, Any]:
            return await _read_json(headers, receive)

        try:
            status, payload, extra = await self.answer(endpoint, method, client, body)
        except _Disconnected:
            return
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [_JSON, (b"content-length", b"%d" % len(payload)), *extra],
            }
        )
        await send({"type": "http.response.body", "body": payload})
        self.record(method, path, status, start, client, extra)

    async def answer(
        self,
        endpoint: Endpoint,
        method: str,
        client: str,
        body: Callable[[], Awaitable[dict[str, Any]]],
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        """(status, JSON payload, extra headers) of one request to ``endpoint``; ``body``
        reads and checks the request body. Raises ``_Disconnected`` (nothing to answer)."""
        extra: list[tuple[bytes, bytes]] = []
        try:
            if method != "POST":
                status, answer = 405, _NOT_ALLOWED
            else:
                status, answer = 200, await endpoint(await body(), client)
        except _Disconnected:
            raise
        except Exception as exc:
            status, answer, extra = self.api.error_parts(exc)
        return status, _ENCODER.encode(answer).encode(), extra

    def record(
        self,
        method: str,
        path: str,
        status: int,
        start: float,
        client: str,
        extra: list[tuple[bytes, bytes]],
    ) -> None:
        """Metrics and the log line of an answered request (after its answer left)."""
        error = next((v.decode() for k, v in extra if k == b"x-coffer-error"), None)
        self.api.record(method, path, status, start, client, error)


_NOT_ALLOWED = {"error": "method_not_allowed", "message": "method not allowed"}


async def _read_json(headers: dict[bytes, bytes], receive: Receive) -> dict[str, Any]:
    check_headers(headers)
    return parse_body(await _body(receive, MAX_BODY))


def check_headers(headers: dict[bytes, bytes]) -> None:
    """A POST's media type (415) and declared length (413), before its body is read."""
    if not is_json_media(headers.get(b"content-type", b"")):
        raise UnsupportedMediaType("request bodies must be sent as Content-Type: application/json")
    declared = headers.get(b"content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise TooLarge(f"request bodies are limited to {MAX_BODY} bytes")


def is_json_media(content_type: bytes) -> bool:
    """``Content-Type`` says ``application/json`` (parameters such as a charset allowed)."""
    return content_type.split(b";", 1)[0].strip().lower() == b"application/json"


def parse_body(raw: bytes) -> dict[str, Any]:
    """A complete request body as the JSON object it must be (400 otherwise)."""
    if nesting(raw) > MAX_DEPTH:
        raise BadRequest(f"the request body nests deeper than {MAX_DEPTH} levels")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadRequest("the request body is not JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    return body


async def _body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"request bodies are limited to {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def nesting(raw: bytes) -> int:
    """Deepest ``[``/``{`` nesting outside strings (an upper bound is all that is needed).

    A body with at most ``MAX_DEPTH`` opening brackets in all cannot nest deeper, whatever its
    strings hold: then their count is the answer, without the byte-by-byte walk (which costs
    a login request more than parsing the JSON does)."""
    opening = raw.count(b"[") + raw.count(b"{")
    if opening <= MAX_DEPTH:
        return opening
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest
