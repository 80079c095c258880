"""PostgreSQL's fast path: each request of :mod:`coffer.vault.fastpath` as ONE statement (one
round trip, no ``BEGIN``/``COMMIT``), sent in autocommit from a sync or an async connection.

Rules (the portable versions in :mod:`coffer.vault.store_fast` are the reference):

- Rate-limit tokens are taken by data-modifying CTEs on the UNLOGGED ``rate_limits`` table in
  the same statement as the read; the second bucket is charged only if the first allowed
  (``… SELECT … WHERE EXISTS (SELECT 1 FROM c0)``). A read-and-charge statement writes no WAL,
  so its commit waits for no flush, and it holds a bucket's row lock only while it runs.
- The spend is ``UPDATE accounts … WHERE account AND generation AND attempts_left > 0 AND state
  <> 'locked' RETURNING``, with the pending row and the ``attempt`` audit row inserted ``FROM``
  its result: all three or none, committed (synchronously) before the statement returns, and
  two nodes racing for the last attempt are serialised by the row lock and the re-checked WHERE.
- The spend of a client-held login (:class:`SpendFresh`) is the same ``UPDATE`` on the account
  alone, gated on the charges, and returns the row KE2 is built from, with the pending row
  (nothing sealed in it) and the ``attempt`` row inserted from its result.
- The finish deletes the pending row (``expires_at > now``), restores the allowance joined on
  what the delete returned, and writes the ``success`` row from the restore's result. The
  account row is locked by the restore within the same statement, so a concurrent failure's
  lockout check (which locks the account first) either runs before — and still sees this
  pending row — or after, and sees the full allowance: no lockout can land under a success.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

from coffer.vault import store_fast
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

Statement = tuple[str, tuple[Any, ...]]

_BUCKET = (
    " ON CONFLICT (key) DO UPDATE SET tat = GREATEST(rate_limits.tat, %s) + %s"
    " WHERE GREATEST(rate_limits.tat, %s) <= %s RETURNING 1)"
)


def _charges(charges: tuple[Charge, ...], now: float) -> tuple[list[str], list[Any]]:
    """CTEs ``c0``, ``c1`` … each taking one token if the previous one was granted."""
    ctes: list[str] = []
    params: list[Any] = []
    for i, c in enumerate(charges):
        step = 1.0 / c.rate
        tau = (c.burst - 1) * step
        ctes.append(_cte(i))
        params += [c.key, now + step, now, step, now, now + tau]
    return ctes, params


@functools.cache
def _cte(i: int) -> str:
    gate = f" WHERE EXISTS (SELECT 1 FROM c{i - 1})" if i else ""
    return f"c{i} AS (INSERT INTO rate_limits (key, tat) SELECT %s, %s{gate}" + _BUCKET


@functools.cache
def _granted(n: int) -> str:
    """A column counting the charges granted (they are granted in order)."""
    return " + ".join(f"(SELECT count(*) FROM c{i})" for i in range(n)) if n else "0"


@dataclass(frozen=True)
class Refused:
    """The statement's charges stopped at ``charge``: nothing else was done."""

    charge: Charge


def _live(charges: tuple[Charge, ...]) -> tuple[Charge, ...]:
    return tuple(c for c in charges if c.rate > 0)


def statement(request: StoreRequest) -> Statement:
    """The one statement answering ``request``."""
    if isinstance(request, TakeCharges):
        live = _live(request.charges)
        ctes, params = _charges(live, request.now)
        return _with(ctes) + f"SELECT {_granted(len(live))}", tuple(params)
    if isinstance(request, ReadAttempt):
        live = _live(request.charges)
        ctes, params = _charges(live, request.now)
        sql = (
            _with(ctes) + f"SELECT {_granted(len(live))}, a.record, a.cred_id, a.ksf,"
            " a.attempts_left, a.generation, a.state"
            " FROM (SELECT 1) AS one LEFT JOIN accounts a ON a.account = %s"
        )
        return sql, (*params, request.account)
    if isinstance(request, ReadPending):
        live = _live(request.charges)
        ctes, params = _charges(live, request.now)
        sql = (
            _with(ctes) + f"SELECT {_granted(len(live))}, p.account, p.generation, p.sealed,"
            " p.expires_at FROM (SELECT 1) AS one"
            " LEFT JOIN pending p ON p.id = %s AND p.kind = 'login'"
        )
        return sql, (*params, request.attempt_id)
    if isinstance(request, SpendAttempt):
        return _spend(request)
    if isinstance(request, SpendFresh):
        return _spend_fresh(request)
    if isinstance(request, FinishOk):
        return _finish(request)
    raise TypeError(f"not a fast-path store request: {type(request).__name__}")


def _with(ctes: list[str]) -> str:
    return "WITH " + ", ".join(ctes) + " " if ctes else ""


def _spend(r: SpendAttempt) -> Statement:
    p = r.pending
    sql = (
        "WITH s AS (UPDATE accounts SET attempts_left = attempts_left - 1, updated_at = %s"
        " WHERE account = %s AND generation = %s AND attempts_left > 0 AND state <> 'locked'"
        " RETURNING account, attempts_left),"
        " p AS (INSERT INTO pending (id, account, kind, generation, sealed, expires_at)"
        " SELECT %s, account, 'login', %s, %s, %s FROM s),"
        " a AS (INSERT INTO audit (ts, event, account, client, node, attempts_left, detail)"
        " SELECT %s, 'attempt', account, %s, %s, attempts_left, NULL FROM s)"
        " SELECT attempts_left FROM s"
    )
    params = (r.now, r.row.account, r.row.generation, p.id, p.generation, p.sealed, p.expires_at)
    return sql, (*params, r.now, r.ctx.client, r.ctx.node)


def _spend_fresh(r: SpendFresh) -> Statement:
    live = _live(r.charges)
    _ctes, params = _charges(live, r.now)
    params += [r.now, r.account, r.attempt_id, r.expires_at, r.now, r.ctx.client, r.ctx.node]
    return _spend_fresh_sql(len(live)), tuple(params)


@functools.cache
def _spend_fresh_sql(n: int) -> str:
    gate = f" AND EXISTS (SELECT 1 FROM c{n - 1})" if n else ""
    ctes = [_cte(i) for i in range(n)] + [
        "s AS (UPDATE accounts SET attempts_left = attempts_left - 1, updated_at = %s"
        f" WHERE account = %s AND attempts_left > 0 AND state <> 'locked'{gate}"
        " RETURNING account, record, cred_id, ksf, attempts_left, generation, state)",
        "p AS (INSERT INTO pending (id, account, kind, generation, sealed, expires_at)"
        " SELECT %s, account, 'login', generation, ''::bytea, %s FROM s)",
        "a AS (INSERT INTO audit (ts, event, account, client, node, attempts_left, detail)"
        " SELECT %s, 'attempt', account, %s, %s, attempts_left, NULL FROM s)",
    ]
    return (
        _with(ctes) + f"SELECT {_granted(n)}, s.record, s.cred_id, s.ksf,"
        " s.attempts_left, s.generation, s.state FROM (SELECT 1) AS one LEFT JOIN s ON true"
    )


def _finish(r: FinishOk) -> Statement:
    p = r.pending
    sql = (
        "WITH d AS (DELETE FROM pending WHERE id = %s AND kind = 'login' AND expires_at > %s"
        " RETURNING account, generation),"
        " r AS (UPDATE accounts SET attempts_left = max_attempts, updated_at = %s FROM d"
        " WHERE accounts.account = d.account AND accounts.generation = d.generation"
        " AND accounts.state = 'active' RETURNING accounts.account, secret, attempts_left),"
        " a AS (INSERT INTO audit (ts, event, account, client, node, attempts_left, detail)"
        " SELECT %s, 'success', account, %s, %s, attempts_left, NULL FROM r)"
        " SELECT (SELECT count(*) FROM d), r.secret, r.attempts_left"
        " FROM (SELECT 1) AS one LEFT JOIN r ON true"
    )
    return sql, (p.id, r.now, r.now, r.now, r.ctx.client, r.ctx.node)


def result(request: StoreRequest, row: Any) -> Any:
    """The answer to ``request`` from the statement's one row, or :class:`Refused`."""
    live = _live(getattr(request, "charges", ()))
    if live and int(row[0]) < len(live):
        return Refused(live[int(row[0])])
    if isinstance(request, TakeCharges):
        return 0
    if isinstance(request, ReadAttempt):
        return 0, store_fast.attempt_row(request.account, None if row[6] is None else row[1:])
    if isinstance(request, ReadPending):
        return 0, store_fast.pending_row(request.attempt_id, None if row[1] is None else row[1:])
    if isinstance(request, SpendFresh):
        return 0, store_fast.attempt_row(request.account, None if row[6] is None else row[1:])
    if isinstance(request, SpendAttempt):
        return None if row is None else int(row[0])
    assert isinstance(request, FinishOk)
    if not row[0]:
        return None
    if row[1] is None:
        return "conflict"
    return bytes(row[1]), int(row[2])


def refused(request: StoreRequest, wait: int) -> Any:
    """The answer to a request whose charges were refused (``wait`` seconds)."""
    return wait if isinstance(request, TakeCharges) else (wait, None)


def wait_statement(charge: Charge) -> Statement:
    return "SELECT tat FROM rate_limits WHERE key = %s", (charge.key,)


def wait_seconds(charge: Charge, row: Any, now: float) -> int:
    """Whole seconds until the refused bucket holds a token (as :func:`store_sql.rate_wait`)."""
    ahead = (float(row[0]) if row else now) - now - (charge.burst - 1) / charge.rate
    return max(1, math.ceil(ahead))


def events(request: StoreRequest, answer: Any) -> tuple[str, ...]:
    """Audit events the statement wrote (for the metrics hook)."""
    if isinstance(request, SpendAttempt) and answer is not None:
        return ("attempt",)
    if isinstance(request, SpendFresh) and answer[1] is not None:
        return ("attempt",)
    if isinstance(request, FinishOk) and isinstance(answer, tuple):
        return ("success",)
    return ()
