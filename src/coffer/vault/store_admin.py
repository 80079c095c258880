"""Operator and housekeeping statements of the store: accounts, ghosts, audit retention, and
the rate-limit buckets every node shares.

Rules:

- Operators see accounts (name, state, attempts left, KSF, generation, last change) and never a
  record or a sealed secret. An operator may delete an account (audited as
  ``operator-delete``); nothing here resets or raises a guess counter.
- Ghost rows (never-registered names that someone probed) are deleted once idle for
  ``ghost_ttl`` and without a live attempt. A swept ghost's counter starts again at the
  maximum: someone who waits that long between probes learns the name was never registered —
  which ``register/start`` tells anyone at once anyway.
- Audit retention: rows older than the retention are deleted only after the *audit horizon*
  (a single row that triggers let move only forward) has been raised past them; the triggers
  refuse to delete any row newer than the horizon, so no command can trim recent history.
- Rate limits are GCRA buckets (one "theoretical arrival time" per key) changed by a single
  ``INSERT … ON CONFLICT DO UPDATE … WHERE`` statement, so every node behind the database
  enforces one shared limit. A bucket whose time is past holds nothing and is swept.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from coffer.vault import store_sql as sql
from coffer.vault.records import AuditContext
from coffer.vault.store import SqlStore

DAY = 86400.0


@dataclass(frozen=True)
class AccountInfo:
    """What an operator may see about an account (never its record or secret)."""

    account: str
    state: str
    attempts_left: int
    max_attempts: int
    ksf: str
    generation: int
    updated_at: float
    pending: int


_ACCOUNT_COLS = (
    "SELECT a.account, a.state, a.attempts_left, a.max_attempts, a.ksf, a.generation,"
    " a.updated_at, (SELECT COUNT(*) FROM pending p WHERE p.account = a.account)"
    " FROM accounts a"
)


def _info(row: Any) -> AccountInfo:
    return AccountInfo(
        str(row[0]),
        str(row[1]),
        int(row[2]),
        int(row[3]),
        str(row[4]),
        int(row[5]),
        float(row[6]),
        int(row[7]),
    )


def list_accounts(
    store: SqlStore, *, state: str | None = None, prefix: str = "", limit: int = 100
) -> list[AccountInfo]:
    """Accounts in name order, optionally of one state and with a name prefix."""
    where, params = ["a.account >= %s", "a.account < %s"], [prefix, prefix + "\U0010ffff"]
    if state is not None:
        where.append("a.state = %s")
        params.append(state)
    query = f"{_ACCOUNT_COLS} WHERE {' AND '.join(where)} ORDER BY a.account LIMIT %s"
    with store._tx() as cur:
        rows = store._run(cur, query, *params, limit).fetchall()
    return [_info(r) for r in rows]


def count_accounts(store: SqlStore) -> dict[str, int]:
    """Number of accounts per state."""
    with store._tx() as cur:
        rows = store._run(cur, "SELECT state, COUNT(*) FROM accounts GROUP BY state").fetchall()
    return {str(r[0]): int(r[1]) for r in rows}


def show_account(store: SqlStore, account: str) -> AccountInfo | None:
    with store._tx() as cur:
        row = store._run(cur, f"{_ACCOUNT_COLS} WHERE a.account = %s", account).fetchone()
    return None if row is None else _info(row)


def delete_account(store: SqlStore, account: str, ctx: AuditContext) -> bool:
    """Operator deletion: the row, its pending attempts and grants; the name becomes free."""
    now = time.time()
    with store._tx() as cur:
        store._lock_account(cur, account)
        store._run(cur, "DELETE FROM accounts WHERE account = %s", account)
        if cur.rowcount != 1:
            return False
        store._run(cur, "DELETE FROM pending WHERE account = %s", account)
        sql.audit(store._run, cur, now, "operator-delete", account, ctx, None)
    return True


def sweep_ghosts(store: SqlStore, now: float, ttl_days: float, ctx: AuditContext) -> int:
    """Delete ghosts idle for ``ttl_days`` with no pending attempt; returns how many."""
    with store._tx() as cur:
        store._run(
            cur,
            "DELETE FROM accounts WHERE state = 'ghost' AND updated_at < %s AND NOT EXISTS"
            " (SELECT 1 FROM pending WHERE pending.account = accounts.account)",
            now - ttl_days * DAY,
        )
        swept = int(cur.rowcount)
        if swept:
            sql.audit(store._run, cur, now, "ghosts-swept", "", ctx, None, f"count={swept}")
    return swept


def prune_audit(store: SqlStore, now: float, retention_days: float, ctx: AuditContext) -> int:
    """Raise the audit horizon to ``now - retention`` and delete the rows before it."""
    if retention_days <= 0:
        return 0
    horizon = now - retention_days * DAY
    with store._tx() as cur:
        store._run(
            cur,
            "INSERT INTO audit_horizon (id, horizon) VALUES (1, %s) ON CONFLICT (id) DO UPDATE"
            " SET horizon = excluded.horizon WHERE audit_horizon.horizon < excluded.horizon",
            horizon,
        )
        store._run(
            cur,
            "DELETE FROM audit WHERE ts < (SELECT MAX(horizon) FROM audit_horizon)",
        )
        pruned = int(cur.rowcount)
        if pruned:
            sql.audit(store._run, cur, now, "audit-pruned", "", ctx, None, f"count={pruned}")
    return pruned


def rate_take(store: SqlStore, key: str, rate: float, burst: int, now: float) -> int:
    """Take one request from ``key``'s shared bucket: 0 if allowed, else seconds to wait."""
    if rate <= 0:
        return 0
    with store._quick() as cur:
        return sql.rate_take(store._run, cur, key, rate, burst, now)


def sweep_rate_limits(store: SqlStore, now: float) -> None:
    """Drop buckets that have refilled completely (they hold no information)."""
    with store._quick() as cur:
        store._run(cur, "DELETE FROM rate_limits WHERE tat < %s", now)
