"""The vault's HTTP layer: Starlette routes over :class:`~coffer.vault.protocol.VaultCore`.

Rules:

- JSON in, JSON out; binary fields unpadded base64url. A POST must say ``Content-Type:
  application/json`` (415 otherwise: a web page cannot make a browser send that cross-origin
  without a CORS preflight, which the vault never answers). Request bodies are capped
  (:data:`MAX_BODY`, checked on ``Content-Length`` and while reading): 413 beyond it; JSON nested
  deeper than :data:`MAX_DEPTH` is 400.
- Errors map to statuses in one place (:func:`_error_response`): a :class:`RequestRefused` gives
  its own status and ``{"error": code, "message": …}``; 429 carries ``Retry-After``; a store
  failure is 503; anything else is 500 and is logged without request data. Unknown paths and
  methods are JSON 404/405 too — no response is ever plain text.
- The client address is the peer, or behind trusted proxies the rightmost untrusted
  ``X-Forwarded-For`` hop (:mod:`coffer.vault.clientaddr`).
- Rate limits: every request takes a token from the client address's bucket; requests naming an
  account (register, recover start, attempts) also from the account's bucket. By default the
  buckets live in the store, shared by every node, with the rates of the stored settings;
  explicit :class:`HttpSettings` limits use per-process buckets (tests, the embedded vault).
- ``/v1/health`` (alive: no I/O) and ``/v1/ready`` (the store answers and holds this node's
  public key) are not rate-limited.
- ``recover/start`` and ``recover/finish`` (every login) run as flows
  (:mod:`coffer.vault.fastpath`): with PostgreSQL their store statements are awaited on the
  event loop (async connections, one statement per round trip, the rate-limit tokens taken in
  the first) and only a rare fallback goes to a thread; with SQLite the whole flow runs in one
  thread hop. The other handlers (also the witness's, :mod:`coffer.vault.witness`) run in the
  thread pool (the store and the crypto are blocking and release the GIL), the shared
  rate-limit check in the same thread hop as the handler.
- Test-only hook: with ``COFFER_VAULT_TEST_CRASH_AFTER_COMMIT=1`` in its environment the node
  calls ``os._exit(75)`` right after committing an attempt, before sending the KE2 — the crash
  test's way of killing a node at the worst moment. Never set it in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from coffer.vault import openapi, store_admin
from coffer.vault.asgi_post import MAX_BODY as MAX_BODY
from coffer.vault.asgi_post import MAX_DEPTH as MAX_DEPTH
from coffer.vault.asgi_post import Endpoint, PostFront
from coffer.vault.audit import LOGGER, elapsed_ms, log_event
from coffer.vault.clientaddr import Network, client_address
from coffer.vault.errors import (
    RateLimited,
    RequestRefused,
    StoreError,
)
from coffer.vault.fastpath import Charge, Flow, drive_async
from coffer.vault.housekeeping import Housekeeper
from coffer.vault.metrics import METRICS
from coffer.vault.protocol import VaultCore
from coffer.vault.ratelimit import Limit, RateLimiter
from coffer.vault.server import META_PUBLIC_KEY
from coffer.vault.store import AuditContext
from coffer.vault.witness import WitnessHandlers

CRASH_ENV = "COFFER_VAULT_TEST_CRASH_AFTER_COMMIT"
Handler = Callable[[dict[str, Any], AuditContext], dict[str, Any]]
FlowHandler = Callable[[dict[str, Any], AuditContext, tuple[Charge, ...]], Flow[dict[str, Any]]]


@dataclass(frozen=True)
class HttpSettings:
    """The HTTP layer's node-local knobs.

    ``per_address`` / ``per_account`` of ``None`` (the default) mean: the stored settings'
    rates, in buckets shared through the store. Explicit limits are per-process buckets.
    """

    per_address: Limit | None = None
    per_account: Limit | None = None
    sweep_interval: float = 15.0
    settings_interval: float = 5.0
    housekeeping_interval: float = 600.0
    trusted_proxies: tuple[Network, ...] = field(default_factory=tuple)


def create_app(core: VaultCore, http: HttpSettings | None = None) -> PostFront:
    """The ASGI application of one vault node: the POST endpoints on a bare ASGI layer
    (:mod:`coffer.vault.asgi_post`), the rest on Starlette."""
    http = http or HttpSettings()
    if os.environ.get(CRASH_ENV) == "1":
        core.after_attempt_commit = lambda: os._exit(75)
    core.store.on_event = METRICS.audit_event
    api = _Api(core, http)
    routes = [
        Route("/v1/info", api.info, methods=["GET"]),
        Route("/v1/openapi.json", api.openapi, methods=["GET"]),
        Route("/v1/attempts", api.attempts, methods=["GET"]),
        Route("/v1/health", api.health, methods=["GET"]),
        Route("/v1/ready", api.ready, methods=["GET"]),
    ]
    posts: dict[str, Endpoint] = {}
    witness = WitnessHandlers(core.store, core.clock)
    for path, flow, by_account in (
        ("/v1/recover/start", core.recover_start_flow, True),
        ("/v1/recover/finish", core.recover_finish_flow, False),
    ):
        posts[path] = api.flow_endpoint(flow, by_account)
    for path, handler, by_account in (
        ("/v1/register/start", core.register_start, True),
        ("/v1/register/finish", core.register_finish, True),
        ("/v1/recover/abort", core.recover_abort, False),
        ("/v1/password/change", core.password_change, False),
        ("/v1/password/commit", core.password_commit, False),
        ("/v1/account/delete", core.account_delete, False),
        ("/v1/witness/update", witness.update, False),
        ("/v1/witness/read", witness.read, False),
    ):
        posts[path] = api.post_endpoint(handler, by_account)
    rest = Starlette(
        routes=routes,
        lifespan=api.lifespan,
        exception_handlers={HTTPException: _http_error, Exception: _crash},
    )
    return PostFront(api, posts, rest)


class _Api:
    def __init__(self, core: VaultCore, http: HttpSettings) -> None:
        self.core = core
        self.http = http
        self.by_address = RateLimiter(http.per_address) if http.per_address else None
        self.by_account = RateLimiter(http.per_account) if http.per_account else None
        self.keeper = Housekeeper(core, http)

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        self.core.store.open_async()
        task = asyncio.create_task(self.keeper.run())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await self.core.store.close_async()

    async def info(self, request: Request) -> Response:
        return await self._guard(request, lambda: self.core.info(), None)

    async def openapi(self, request: Request) -> Response:
        return JSONResponse(openapi.spec())

    async def health(self, request: Request) -> Response:
        body = {"status": "alive", "node": self.core.settings.node, "pid": os.getpid()}
        return JSONResponse(body)

    async def ready(self, request: Request) -> Response:
        start = time.perf_counter()
        try:
            stored = await run_in_threadpool(self.core.store.get_meta, META_PUBLIC_KEY)
        except StoreError:
            stored = None
        if stored != self.core.setup.public_key:
            body = {"error": "not_ready", "message": "the vault's database is unavailable"}
            return self._finish(request, start, JSONResponse(body, status_code=503))
        ok = {"status": "ready", "node": self.core.settings.node}
        return self._finish(request, start, JSONResponse(ok))

    async def attempts(self, request: Request) -> Response:
        account = request.query_params.get("account", "")
        ctx = self._ctx(request)
        return await self._guard(request, lambda: self.core.attempts(account, ctx), account)

    def post_endpoint(self, handler: Handler, by_account: bool) -> Endpoint:
        """A POST endpoint whose handler (and shared rate-limit check) runs in the thread pool."""

        async def endpoint(body: dict[str, Any], client: str) -> dict[str, Any]:
            account = body.get("account") if by_account else None
            ctx = AuditContext(client, self.core.settings.node)

            def limited_call() -> dict[str, Any]:
                self._limit(client, account if isinstance(account, str) else None)
                return handler(body, ctx)

            return await run_in_threadpool(limited_call)

        return endpoint

    def flow_endpoint(self, flow: FlowHandler, by_account: bool) -> Endpoint:
        """A hot endpoint: its flow's store requests run on the event loop where the store can
        (:func:`~coffer.vault.fastpath.drive_async`), the rate-limit tokens taken in the flow's
        first round trip."""

        async def endpoint(body: dict[str, Any], client: str) -> dict[str, Any]:
            account = body.get("account") if by_account else None
            ctx = AuditContext(client, self.core.settings.node)
            charges = self._charges(client, account if isinstance(account, str) else None)
            return await drive_async(flow(body, ctx, charges), self.core.store, run_in_threadpool)

        return endpoint

    def _charges(self, client: str, account: str | None) -> tuple[Charge, ...]:
        """The shared buckets this request takes a token from; per-process limiters (explicit
        :class:`HttpSettings` limits) are checked here instead."""
        s = self.core.settings
        out: list[Charge] = []
        for local, key, rate, burst in (
            (self.by_address, "addr:" + client, s.rate_per_address, s.burst_per_address),
            (
                self.by_account,
                "acct:" + account if account else "",
                s.rate_per_account,
                s.burst_per_account,
            ),
        ):
            if not key:
                continue
            if local is not None:
                wait = local.take(key)
                if wait:
                    raise RateLimited("too many requests; slow down", retry_after=wait)
            elif rate > 0:
                out.append(Charge(key, rate, burst))
        return tuple(out)

    async def _guard(
        self, request: Request, call: Callable[[], dict[str, Any]], account: str | None
    ) -> Response:
        start = time.perf_counter()
        client = self._client(request)

        def limited_call() -> dict[str, Any]:
            self._limit(client, account)
            return call()

        try:
            result = await run_in_threadpool(limited_call)
            response: Response = JSONResponse(result)
        except Exception as exc:
            response = _error_response(exc)
        return self._finish(request, start, response)

    def _limit(self, client: str, account: str | None) -> None:
        """Take a token from the address's bucket, then (if named) the account's."""
        wait = self._take(self.by_address, "addr:" + client, True)
        if not wait and account:
            wait = self._take(self.by_account, "acct:" + account, False)
        if wait:
            raise RateLimited("too many requests; slow down", retry_after=wait)

    def _take(self, local: RateLimiter | None, key: str, by_address: bool) -> int:
        if local is not None:
            return local.take(key)
        s = self.core.settings
        rate, burst = (
            (s.rate_per_address, s.burst_per_address)
            if by_address
            else (s.rate_per_account, s.burst_per_account)
        )
        return store_admin.rate_take(self.core.store, key, rate, burst, time.time())

    def _client(self, request: Request) -> str:
        peer = request.client.host if request.client else ""
        forwarded = request.headers.get("x-forwarded-for")
        return client_address(peer, forwarded, self.http.trusted_proxies)

    def client_of(self, peer: str, forwarded: bytes | None) -> str:
        """The client address of a raw ASGI request (see :mod:`coffer.vault.clientaddr`)."""
        if forwarded is None or not self.http.trusted_proxies:
            return peer
        return client_address(peer, forwarded.decode("latin-1"), self.http.trusted_proxies)

    def _ctx(self, request: Request) -> AuditContext:
        return AuditContext(self._client(request), self.core.settings.node)

    def _finish(self, request: Request, start: float, response: Response) -> Response:
        path = request.scope["path"]  # only routed paths get here: a bounded label set
        error = response.headers.get("x-coffer-error")
        self.record(request.method, path, response.status_code, start, self._client(request), error)
        return response

    def record(
        self, method: str, path: str, status: int, start: float, client: str, error: str | None
    ) -> None:
        """Metrics and the log line of one answered request (``path`` is a routed path)."""
        METRICS.request(path, status, time.perf_counter() - start)
        if not LOGGER.isEnabledFor(logging.INFO):
            return  # (the fields below cost a login's node more than the check)
        log_event(
            method=method,
            path=path,
            status=status,
            ms=elapsed_ms(start),
            client=client,
            node=self.core.settings.node,
            error=error,
        )

    error_parts = staticmethod(lambda exc: error_parts(exc))


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 400
    code = {404: "not_found", 405: "method_not_allowed"}.get(status, "bad_request")
    return JSONResponse({"error": code, "message": code.replace("_", " ")}, status_code=status)


async def _crash(request: Request, exc: Exception) -> Response:
    return _error_response(exc)


def error_parts(exc: Exception) -> tuple[int, dict[str, Any], list[tuple[bytes, bytes]]]:
    """(status, JSON body, extra headers) for an exception raised while answering a request."""
    if isinstance(exc, RequestRefused):
        headers = [(b"x-coffer-error", exc.code.encode())]
        if isinstance(exc, RateLimited):
            headers.append((b"retry-after", str(exc.retry_after).encode()))
        return exc.status, exc.body(), headers
    if isinstance(exc, StoreError):
        log_event(logging.ERROR, event="store-error", detail=type(exc).__name__)
        body = {"error": "unavailable", "message": "the vault's database is unavailable"}
        return 503, body, [(b"x-coffer-error", b"unavailable")]
    log_event(logging.ERROR, event="internal-error", detail=type(exc).__name__)
    body = {"error": "internal", "message": "internal error"}
    return 500, body, [(b"x-coffer-error", b"internal")]


def _error_response(exc: Exception) -> Response:
    status, body, headers = error_parts(exc)
    return JSONResponse(
        body, status_code=status, headers={k.decode(): v.decode() for k, v in headers}
    )
