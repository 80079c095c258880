"""The vault's HTTP layer: Starlette routes over :class:`~coffer.vault.protocol.VaultCore`.

Rules:

- JSON in, JSON out; binary fields unpadded base64url. Request bodies are capped
  (:data:`MAX_BODY`, checked on ``Content-Length`` and while reading): 413 beyond it.
- Errors map to statuses in one place (:func:`_error_response`): a :class:`RequestRefused` gives
  its own status and ``{"error": code, "message": …}``; 429 carries ``Retry-After``; a store
  failure is 503; anything else is 500 and is logged without request data.
- Rate limits: every request takes a token from the client address's bucket; requests naming an
  account (register, recover start, attempts) also from the account's bucket.
- Handlers run in the thread pool (the store and the crypto are blocking and release the GIL).
- Test-only hook: with ``COFFER_VAULT_TEST_CRASH_AFTER_COMMIT=1`` in its environment the node
  calls ``os._exit(75)`` right after committing an attempt, before sending the KE2 — the crash
  test's way of killing a node at the worst moment. Never set it in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from coffer.vault import openapi
from coffer.vault.audit import elapsed_ms, log_event
from coffer.vault.errors import BadRequest, RateLimited, RequestRefused, StoreError, TooLarge
from coffer.vault.protocol import VaultCore
from coffer.vault.ratelimit import Limit, RateLimiter
from coffer.vault.store import AuditContext

MAX_BODY = 4096
CRASH_ENV = "COFFER_VAULT_TEST_CRASH_AFTER_COMMIT"
Handler = Callable[[dict[str, Any], AuditContext], dict[str, Any]]


@dataclass(frozen=True)
class HttpSettings:
    """Limits of the HTTP layer."""

    per_address: Limit = field(default_factory=lambda: Limit(rate=20.0, burst=60))
    per_account: Limit = field(default_factory=lambda: Limit(rate=1.0, burst=20))
    sweep_interval: float = 15.0
    trust_forwarded_for: bool = False


def create_app(core: VaultCore, http: HttpSettings | None = None) -> Starlette:
    """The ASGI application of one vault node."""
    http = http or HttpSettings()
    if os.environ.get(CRASH_ENV) == "1":
        core.after_attempt_commit = lambda: os._exit(75)
    api = _Api(core, http)
    routes = [
        Route("/v1/info", api.info, methods=["GET"]),
        Route("/v1/openapi.json", api.openapi, methods=["GET"]),
        Route("/v1/attempts", api.attempts, methods=["GET"]),
    ]
    for path, handler, by_account in (
        ("/v1/register/start", core.register_start, True),
        ("/v1/register/finish", core.register_finish, True),
        ("/v1/recover/start", core.recover_start, True),
        ("/v1/recover/finish", core.recover_finish, False),
        ("/v1/recover/abort", core.recover_abort, False),
        ("/v1/password/change", core.password_change, False),
        ("/v1/password/commit", core.password_commit, False),
        ("/v1/account/delete", core.account_delete, False),
    ):
        routes.append(Route(path, api.post_endpoint(handler, by_account), methods=["POST"]))
    return Starlette(routes=routes, lifespan=api.lifespan)


class _Api:
    def __init__(self, core: VaultCore, http: HttpSettings) -> None:
        self.core = core
        self.http = http
        self.by_address = RateLimiter(http.per_address)
        self.by_account = RateLimiter(http.per_account)

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(self._sweeper())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _sweeper(self) -> None:
        ctx = AuditContext("sweeper", self.core.settings.node)
        while True:
            await asyncio.sleep(self.http.sweep_interval)
            try:
                await run_in_threadpool(self.core.store.sweep, self.core.clock(), ctx)
            except StoreError as exc:
                log_event(logging.WARNING, event="sweep-failed", detail=type(exc).__name__)

    async def info(self, request: Request) -> Response:
        return await self._guard(request, lambda: self.core.info(), None)

    async def openapi(self, request: Request) -> Response:
        return JSONResponse(openapi.spec())

    async def attempts(self, request: Request) -> Response:
        account = request.query_params.get("account", "")
        ctx = self._ctx(request)
        return await self._guard(request, lambda: self.core.attempts(account, ctx), account)

    def post_endpoint(self, handler: Handler, by_account: bool) -> Callable[..., Any]:
        async def endpoint(request: Request) -> Response:
            start = time.perf_counter()
            try:
                body = await _read_json(request)
            except RequestRefused as exc:
                return self._finish(request, start, _error_response(exc))
            account = body.get("account") if by_account else None
            ctx = self._ctx(request)
            return await self._guard(
                request, lambda: handler(body, ctx), account if isinstance(account, str) else None
            )

        return endpoint

    async def _guard(
        self, request: Request, call: Callable[[], dict[str, Any]], account: str | None
    ) -> Response:
        start = time.perf_counter()
        try:
            self._limit(self._client(request), account)
            result = await run_in_threadpool(call)
            response: Response = JSONResponse(result)
        except Exception as exc:
            response = _error_response(exc)
        return self._finish(request, start, response)

    def _limit(self, client: str, account: str | None) -> None:
        wait = self.by_address.take("addr:" + client)
        if not wait and account:
            wait = self.by_account.take("acct:" + account)
        if wait:
            raise RateLimited("too many requests; slow down", retry_after=wait)

    def _client(self, request: Request) -> str:
        if self.http.trust_forwarded_for:
            forwarded = request.headers.get("x-forwarded-for", "")
            if forwarded:
                return forwarded.split(",")[0].strip()
        return request.client.host if request.client else ""

    def _ctx(self, request: Request) -> AuditContext:
        return AuditContext(self._client(request), self.core.settings.node)

    def _finish(self, request: Request, start: float, response: Response) -> Response:
        log_event(
            method=request.method,
            path=request.url.path,
            status=response.status_code,
            ms=elapsed_ms(start),
            client=self._client(request),
            node=self.core.settings.node,
            error=response.headers.get("x-coffer-error"),
        )
        return response


async def _read_json(request: Request) -> dict[str, Any]:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise TooLarge(f"request bodies are limited to {MAX_BODY} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise TooLarge(f"request bodies are limited to {MAX_BODY} bytes")
        chunks.append(chunk)
    try:
        body = json.loads(b"".join(chunks))
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("the request body is not JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    return body


def _error_response(exc: Exception) -> Response:
    if isinstance(exc, RequestRefused):
        headers = {"x-coffer-error": exc.code}
        if isinstance(exc, RateLimited):
            headers["retry-after"] = str(exc.retry_after)
        return JSONResponse(exc.body(), status_code=exc.status, headers=headers)
    if isinstance(exc, StoreError):
        log_event(logging.ERROR, event="store-error", detail=type(exc).__name__)
        body = {"error": "unavailable", "message": "the vault's database is unavailable"}
        return JSONResponse(body, status_code=503, headers={"x-coffer-error": "unavailable"})
    log_event(logging.ERROR, event="internal-error", detail=type(exc).__name__)
    body = {"error": "internal", "message": "internal error"}
    return JSONResponse(body, status_code=500, headers={"x-coffer-error": "internal"})
