"""The single SQL statements of the store (portable: SQLite ≥ 3.35 and PostgreSQL ≥ 12).

Rules: each function here is exactly one statement, run on the caller's cursor inside the
caller's transaction (see :mod:`coffer.vault.store` for which statements form a transaction and
why). Counters change only inside these statements — never by a value read into Python. SQL uses
``%s`` placeholders; ``run`` adapts them for the backend.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from coffer.vault.records import AuditContext, PendingRow

Cursor = Any
Run = Callable[..., Cursor]


def spend(run: Run, cur: Cursor, account: str, now: float) -> Any:
    """Take one attempt if any is left; the row needed for KE2, or None."""
    return run(
        cur,
        "UPDATE accounts SET attempts_left = attempts_left - 1, updated_at = %s"
        " WHERE account = %s AND attempts_left > 0 AND state <> 'locked'"
        " RETURNING record, cred_id, ksf, attempts_left, generation",
        now,
        account,
    ).fetchone()


def insert_ghost(
    run: Run, cur: Cursor, account: str, ghost: tuple[bytes, str], now: float, max_attempts: int
) -> None:
    """Create the ghost row of an unknown account (no-op if the account exists)."""
    run(
        cur,
        "INSERT INTO accounts (account, state, cred_id, record, secret, ksf, attempts_left,"
        " max_attempts, generation, updated_at) VALUES (%s, 'ghost', %s, NULL, NULL, %s,"
        " %s, %s, 1, %s) ON CONFLICT (account) DO NOTHING",
        account,
        ghost[0],
        ghost[1],
        max_attempts,
        max_attempts,
        now,
    )


def insert_pending(run: Run, cur: Cursor, p: PendingRow) -> None:
    run(
        cur,
        "INSERT INTO pending (id, account, kind, generation, sealed, expires_at)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        p.id,
        p.account,
        p.kind,
        p.generation,
        p.sealed,
        p.expires_at,
    )


def peek_pending(run: Run, cur: Cursor, pid: bytes, kind: str) -> str | None:
    """The account a pending row belongs to (no lock), or None."""
    row = run(cur, "SELECT account FROM pending WHERE id = %s AND kind = %s", pid, kind)
    found = row.fetchone()
    return None if found is None else str(found[0])


def delete_pending(run: Run, cur: Cursor, pid: bytes, kind: str) -> PendingRow | None:
    """Consume a pending row (exactly once across all nodes)."""
    row = run(
        cur,
        "DELETE FROM pending WHERE id = %s AND kind = %s"
        " RETURNING account, generation, sealed, expires_at",
        pid,
        kind,
    ).fetchone()
    if row is None:
        return None
    return PendingRow(pid, str(row[0]), kind, int(row[1]), bytes(row[2]), float(row[3]))


def restore_allowance(run: Run, cur: Cursor, p: PendingRow, now: float) -> Any:
    """After a verified KE3: full allowance; the row (secret, attempts_left) or None."""
    return run(
        cur,
        "UPDATE accounts SET attempts_left = max_attempts, updated_at = %s"
        " WHERE account = %s AND generation = %s AND state = 'active'"
        " RETURNING secret, attempts_left",
        now,
        p.account,
        p.generation,
    ).fetchone()


def delete_account(run: Run, cur: Cursor, p: PendingRow) -> bool:
    run(
        cur,
        "DELETE FROM accounts WHERE account = %s AND generation = %s AND state = 'active'",
        p.account,
        p.generation,
    )
    return bool(cur.rowcount == 1)


def lock_if_spent(run: Run, cur: Cursor, account: str, now: float) -> bool:
    """Lock an active account at zero with no live pending attempt: destroy record and V."""
    run(
        cur,
        "UPDATE accounts SET state = 'locked', record = NULL, secret = NULL,"
        " generation = generation + 1, updated_at = %s"
        " WHERE account = %s AND state = 'active' AND attempts_left = 0 AND NOT EXISTS"
        " (SELECT 1 FROM pending WHERE pending.account = %s AND pending.kind = 'login'"
        " AND pending.expires_at > %s)",
        now,
        account,
        account,
        now,
    )
    return bool(cur.rowcount == 1)


def audit(
    run: Run,
    cur: Cursor,
    now: float,
    event: str,
    account: str,
    ctx: AuditContext,
    attempts_left: int | None,
    detail: str | None = None,
) -> None:
    run(
        cur,
        "INSERT INTO audit (ts, event, account, client, node, attempts_left, detail)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)",
        now,
        event,
        account,
        ctx.client,
        ctx.node,
        attempts_left,
        detail,
    )


def rate_take(run: Run, cur: Cursor, key: str, rate: float, burst: int, now: float) -> int:
    """Take one token from ``key``'s shared GCRA bucket: 0 if allowed, else seconds to wait.

    One ``INSERT … ON CONFLICT DO UPDATE … WHERE`` moves the bucket's theoretical arrival time
    only if a token is there, so concurrent takers on any node never overdraw it."""
    if rate <= 0:
        return 0
    step = 1.0 / rate
    tau = (burst - 1) * step
    row = run(
        cur,
        "INSERT INTO rate_limits (key, tat) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE"
        " SET tat = (CASE WHEN rate_limits.tat > %s THEN rate_limits.tat ELSE %s END) + %s"
        " WHERE (CASE WHEN rate_limits.tat > %s THEN rate_limits.tat ELSE %s END) <= %s"
        " RETURNING tat",
        key,
        now + step,
        now,
        now,
        step,
        now,
        now,
        now + tau,
    ).fetchone()
    if row is not None:
        return 0
    return rate_wait(run, cur, key, rate, burst, now)


def rate_wait(run: Run, cur: Cursor, key: str, rate: float, burst: int, now: float) -> int:
    """Whole seconds until ``key``'s bucket holds a token again (at least 1)."""
    tat = run(cur, "SELECT tat FROM rate_limits WHERE key = %s", key).fetchone()
    ahead = (float(tat[0]) if tat else now) - now - (burst - 1) / rate
    return max(1, math.ceil(ahead))
