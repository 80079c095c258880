"""The login's hot path as store requests: what a flow asks of the store, and two drivers.

Rules:

- A login is two requests, each with two store round trips at most: ``recover/start`` reads the
  account row while taking the request's rate-limit tokens (:class:`ReadAttempt`), builds KE2
  outside any transaction, then spends the attempt and stores the sealed state in one atomic
  statement that commits before KE2 is returned (:class:`SpendAttempt`); ``recover/finish``
  reads the pending attempt while taking its tokens (:class:`ReadPending`), verifies KE3, then
  consumes the attempt, restores the allowance and writes the ``success`` row in one atomic
  statement (:class:`FinishOk`).
- A client that holds its own login state (``client_state``, :mod:`coffer.vault.protocol`)
  makes a login two round trips in all: ``recover/start`` takes its tokens, spends the attempt
  and stores the pending row in one atomic statement (:class:`SpendFresh`), commits, and only
  then builds KE2 from the row that statement returned; ``recover/finish`` verifies KE3 against
  the state the client sent back before it touches the store, then runs :class:`FinishOk`.
- The spend is conditional on the row read (same ``generation``, an attempt left, not locked),
  and the finish on the pending row still being there and unexpired. When a condition fails,
  or the row is missing, locked or at zero, or KE3 does not verify, the flow falls back to the
  store's transactional methods (``take_attempt``, ``finish_login``) through :class:`Blocking`:
  the rare paths keep exactly their old semantics (ghost rows, lockout, failure rows).
- Rate-limit tokens (:class:`Charge`) are taken in the first round trip; a refusal stops the
  flow before any crypto. ``recover/finish`` takes none for a live attempt (its start did) and
  charges only a finish whose attempt is unknown, used or gone (:class:`TakeCharges`). The
  buckets are the shared GCRA buckets of :mod:`coffer.vault.store_admin`.

Theory: a flow is a generator (sans I/O, in :mod:`coffer.vault.protocol`) that yields these
request objects and receives their answers. :func:`drive_sync` answers them with the store's
blocking methods (SQLite nodes, tests, the embedded vault); :func:`drive_async` answers them on
the event loop with the store's ``fast_async`` (PostgreSQL's async connections) and runs only
:class:`Blocking` steps, or everything when the store has no async side, in a worker thread.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from coffer.vault.records import AttemptRow, AuditContext, PendingRow

if TYPE_CHECKING:
    from coffer.vault.store import SqlStore

T = TypeVar("T")


@dataclass(frozen=True)
class Charge:
    """One token from the shared bucket ``key`` (GCRA at ``rate``/s, ``burst`` at once)."""

    key: str
    rate: float
    burst: int


@dataclass(frozen=True)
class TakeCharges:
    """Only take ``charges`` (a request refused before it reached the store still pays).
    Answer: seconds to wait, 0 if allowed."""

    charges: tuple[Charge, ...]
    now: float


@dataclass(frozen=True)
class ReadAttempt:
    """Take ``charges`` in order (stop at the first refusal), then read ``account``'s row.
    Answer: (seconds to wait, 0 if allowed; the row or None)."""

    account: str
    charges: tuple[Charge, ...]
    now: float


@dataclass(frozen=True)
class SpendAttempt:
    """Atomically: one attempt less if ``row`` is unchanged and has one, ``pending`` stored,
    the ``attempt`` audit row written. Answer: attempts left, or None (nothing changed)."""

    row: AttemptRow
    pending: PendingRow
    now: float
    ctx: AuditContext


@dataclass(frozen=True)
class SpendFresh:
    """Take ``charges`` in order (stop at the first refusal), then atomically: one attempt less
    on ``account``'s row if it has one and is not locked, the pending row ``attempt_id`` (its
    login state held by the client, so nothing sealed is stored) and the ``attempt`` audit row.
    Answer: (seconds to wait, 0 if allowed; the row with its attempts left after the spend, or
    None when nothing was spent)."""

    account: str
    attempt_id: bytes
    charges: tuple[Charge, ...]
    now: float
    expires_at: float
    ctx: AuditContext


@dataclass(frozen=True)
class ReadPending:
    """Take ``charges``, then read the pending login ``attempt_id`` (not consumed).
    Answer: (seconds to wait, 0 if allowed; the row or None)."""

    attempt_id: bytes
    charges: tuple[Charge, ...]
    now: float


@dataclass(frozen=True)
class FinishOk:
    """Atomically: consume ``pending`` if still there and unexpired, restore the full
    allowance, write the ``success`` row. Answer: (secret, attempts left), ``"conflict"`` (the
    attempt was consumed but the account changed meanwhile) or None (nothing changed)."""

    pending: PendingRow
    now: float
    ctx: AuditContext


@dataclass(frozen=True)
class Blocking:
    """A slow path: one of the store's transactional methods. Answer: what ``call`` returns."""

    call: Callable[[], Any]


StoreRequest = TakeCharges | ReadAttempt | SpendAttempt | SpendFresh | ReadPending | FinishOk
Request = StoreRequest | Blocking
Flow = Generator[Request, Any, T]


def drive_sync(flow: Flow[T], store: SqlStore) -> T:
    """Run ``flow`` to its end with blocking store calls."""
    answer: Any = None
    while True:
        try:
            request = flow.send(answer)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        answer = request.call() if isinstance(request, Blocking) else store.fast(request)


async def drive_async(
    flow: Flow[T], store: SqlStore, to_thread: Callable[[Callable[[], Any]], Awaitable[Any]]
) -> T:
    """Run ``flow`` on the event loop: fast requests through ``store.fast_async`` when the store
    has an async side ready, everything else through ``to_thread``."""
    if not store.async_ready():
        return await to_thread(lambda: drive_sync(flow, store))  # type: ignore[no-any-return]
    answer: Any = None
    while True:
        try:
            request = flow.send(answer)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        if isinstance(request, Blocking):
            answer = await to_thread(request.call)
        else:
            answer = await store.fast_async(request)
