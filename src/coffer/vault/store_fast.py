"""The store's answers to the login's fast-path requests (:mod:`coffer.vault.fastpath`), in
portable SQL — what SQLite runs, and the reference PostgreSQL's one-statement versions
(:mod:`coffer.vault.store_pgfast`) must agree with (the same tests run on both).

Rules: each request is one transaction. Rate-limit tokens and the reads go through the store's
``_quick`` transaction (SQLite: its unsynchronised connection — a bucket lost in a power cut only
refills early; nothing here that needs durability). The spend and the finish are ordinary
durable transactions that re-check, in their own statements, everything the flow read before:
the row's generation, an attempt left, the account not locked, the pending row present and
unexpired. The finish takes the account's lock before it consumes the pending row, as every
transaction that ends an attempt does (:meth:`SqlStore._lock_account`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from coffer.vault import store_sql as sql
from coffer.vault.fastpath import (
    Charge,
    FinishOk,
    ReadAttempt,
    ReadPending,
    SpendAttempt,
    SpendFresh,
    StoreRequest,
    TakeCharges,
)
from coffer.vault.records import LOCKED, AttemptRow, PendingRow

if TYPE_CHECKING:
    from coffer.vault.store import Cursor, SqlStore

ACCOUNT_ROW = (
    "SELECT record, cred_id, ksf, attempts_left, generation, state FROM accounts WHERE account = %s"
)
PENDING_ROW = (
    "SELECT account, generation, sealed, expires_at FROM pending WHERE id = %s AND kind = 'login'"
)


def attempt_row(account: str, row: Any) -> AttemptRow | None:
    """An account row as read for a login (None if there is none or it is locked)."""
    if row is None or row[5] == LOCKED:
        return None
    record = None if row[0] is None else bytes(row[0])
    return AttemptRow(account, record, bytes(row[1]), str(row[2]), int(row[3]), int(row[4]))


def pending_row(pid: bytes, row: Any) -> PendingRow | None:
    if row is None:
        return None
    return PendingRow(pid, str(row[0]), "login", int(row[1]), bytes(row[2]), float(row[3]))


def answer(store: SqlStore, request: StoreRequest) -> Any:
    """The blocking answer to one fast-path request (:class:`Blocking` is not one)."""
    if isinstance(request, TakeCharges):
        if not request.charges:
            return 0
        with store._quick() as cur:
            return _take(store, cur, request.charges, request.now)
    if isinstance(request, ReadAttempt):
        with store._quick() as cur:
            wait = _take(store, cur, request.charges, request.now)
            if wait:
                return wait, None
            found = store._run(cur, ACCOUNT_ROW, request.account).fetchone()
        return 0, attempt_row(request.account, found)
    if isinstance(request, ReadPending):
        with store._quick() as cur:
            wait = _take(store, cur, request.charges, request.now)
            if wait:
                return wait, None
            found = store._run(cur, PENDING_ROW, request.attempt_id).fetchone()
        return 0, pending_row(request.attempt_id, found)
    if isinstance(request, SpendAttempt):
        return _spend(store, request)
    if isinstance(request, SpendFresh):
        with store._quick() as cur:
            wait = _take(store, cur, request.charges, request.now)
        return (wait, None) if wait else (0, _spend_fresh(store, request))
    if isinstance(request, FinishOk):
        return _finish(store, request)
    raise TypeError(f"not a fast-path store request: {type(request).__name__}")


def _take(store: SqlStore, cur: Cursor, charges: tuple[Charge, ...], now: float) -> int:
    for charge in charges:
        wait = sql.rate_take(store._run, cur, charge.key, charge.rate, charge.burst, now)
        if wait:
            return wait
    return 0


def _spend(store: SqlStore, r: SpendAttempt) -> int | None:
    with store._tx() as cur:
        found = store._run(
            cur,
            "UPDATE accounts SET attempts_left = attempts_left - 1, updated_at = %s"
            " WHERE account = %s AND generation = %s AND attempts_left > 0"
            " AND state <> 'locked' RETURNING attempts_left",
            r.now,
            r.row.account,
            r.row.generation,
        ).fetchone()
        if found is None:
            return None
        left = int(found[0])
        store._record_attempt(cur, r.pending, r.now, r.ctx, left)
    return left


def _spend_fresh(store: SqlStore, r: SpendFresh) -> AttemptRow | None:
    with store._tx() as cur:
        found = store._run(
            cur,
            "UPDATE accounts SET attempts_left = attempts_left - 1, updated_at = %s"
            " WHERE account = %s AND attempts_left > 0 AND state <> 'locked'"
            " RETURNING record, cred_id, ksf, attempts_left, generation, state",
            r.now,
            r.account,
        ).fetchone()
        row = attempt_row(r.account, found)
        if row is None:
            return None
        pending = PendingRow(r.attempt_id, r.account, "login", row.generation, b"", r.expires_at)
        store._record_attempt(cur, pending, r.now, r.ctx, row.attempts_left)
    return row


def _finish(store: SqlStore, r: FinishOk) -> tuple[bytes, int] | str | None:
    p = r.pending
    with store._tx() as cur:
        store._lock_account(cur, p.account)
        gone = store._run(
            cur,
            "DELETE FROM pending WHERE id = %s AND kind = 'login' AND expires_at > %s"
            " RETURNING account",
            p.id,
            r.now,
        ).fetchone()
        if gone is None:
            return None
        restored = store._restore_and_audit(cur, p, r.now, r.ctx)
    if restored is None:
        return "conflict"
    return bytes(restored[0]), int(restored[1])
