"""The vault's storage contract, and the SQL that implements it for every SQL backend.

Rules (each one is a test in ``tests/vault/test_store.py``, run against SQLite and PostgreSQL):

- Every method is one transaction. Counters change only in single SQL statements
  (``UPDATE … SET attempts_left = attempts_left - 1 WHERE … AND attempts_left > 0 RETURNING …``),
  never by reading a value into Python and writing it back.
- :meth:`SqlStore.take_attempt` decrements the counter, lets the caller build the KE2 from the row
  it got back, stores the sealed server state as a pending attempt and commits — all in one
  transaction, so the attempt is durable before the caller can send KE2 anywhere. The login's
  fast path (:meth:`SqlStore.fast`, :mod:`coffer.vault.store_fast`) does the same in one
  conditional statement after reading the row; it falls back to these methods whenever a
  condition fails.
- A pending attempt is consumed exactly once (``DELETE … RETURNING``); an expired one counts as a
  wrong guess.
- Lockout: an active account whose counter is 0 and that has no live pending attempt is locked in
  the same transaction that establishes this (a failed KE3, an abort, an expiry seen by a later
  request or by :meth:`SqlStore.sweep`): the OPAQUE record and the escrowed secret are set to NULL
  and the state becomes ``locked``. A locked account stays locked.
- Accounts nobody registered get a *ghost* row on their first login attempt: a random credential
  identifier and a counter that behaves exactly like a real one, so the login path (KE2, attempts
  left, lockout) cannot tell them apart. Registration replaces a ghost; it refuses an active or
  locked account.
- The audit table is append-only (triggers refuse UPDATE and DELETE) and is written in the same
  transaction as the event it records; it holds account names, client addresses, event names and
  counters — never protocol messages, records or secrets.

Theory of operation: :class:`SqlStore` groups statements into transactions and holds the logic;
the counter, pending and lockout statements themselves are in :mod:`coffer.vault.store_sql`
(``%s`` placeholders). A backend supplies the DDL, a transaction context yielding a DB-API
cursor, the account-row lock, and :meth:`SqlStore._q` to adapt placeholders.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from coffer.vault import store_sql as sql
from coffer.vault.fastpath import StoreRequest
from coffer.vault.records import (
    GHOST,
    LOCKED,
    Action,
    AttemptRow,
    AuditContext,
    Finish,
    GrantSpec,
    NewRecord,
    Outcome,
    PendingRow,
)

T = TypeVar("T")

__all__ = [
    "GHOST",
    "LOCKED",
    "Action",
    "AttemptRow",
    "AuditContext",
    "Finish",
    "GrantSpec",
    "NewRecord",
    "Outcome",
    "PendingRow",
    "SqlStore",
]


Cursor = Any


class SqlStore(abc.ABC):
    """The store contract (module rules), in portable SQL (SQLite ≥ 3.35, PostgreSQL ≥ 12)."""

    def __init__(self, max_attempts: int = 10) -> None:
        self.max_attempts = max_attempts
        self.on_event: Callable[[str], None] | None = None  # metrics: every audit event

    # -- backend hooks -------------------------------------------------------------------
    @abc.abstractmethod
    def _tx(self) -> AbstractContextManager[Cursor]:
        """A write transaction (serialised against other writers of the same rows)."""

    @abc.abstractmethod
    def create_schema(self) -> None:
        """Create tables, indexes and audit triggers if they do not exist."""

    @abc.abstractmethod
    def close(self) -> None:
        """Close every connection this store opened."""

    def _q(self, sql: str) -> str:
        return sql

    def _quick(self) -> AbstractContextManager[Cursor]:
        """A transaction for one statement that needs no durability (rate-limit buckets)."""
        return self._tx()

    @abc.abstractmethod
    def _lock_account(self, cur: Cursor, account: str) -> None:
        """Serialise with every other transaction that ends an attempt of ``account``.

        Whoever ends an attempt takes the account row's lock *before* deleting the pending
        row, so two transactions ending the last two attempts cannot both see the other's
        attempt still pending and both skip the lockout. (SQLite: ``BEGIN IMMEDIATE`` already
        serialises every transaction.)"""

    def _run(self, cur: Cursor, sql: str, *params: Any) -> Cursor:
        cur.execute(self._q(sql), params)
        return cur

    # -- metadata ------------------------------------------------------------------------
    def get_meta(self, name: str) -> bytes | None:
        with self._tx() as cur:
            row = self._run(cur, "SELECT value FROM meta WHERE name = %s", name).fetchone()
        return None if row is None else bytes(row[0])

    def set_meta_audited(
        self, name: str, value: bytes, now: float, ctx: AuditContext, event: str, detail: str
    ) -> None:
        """Store or replace ``name`` with an audit row (``account`` empty) in one transaction."""
        with self._tx() as cur:
            self._run(
                cur,
                "INSERT INTO meta (name, value) VALUES (%s, %s)"
                " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                name,
                value,
            )
            sql.audit(self._run, cur, now, event, "", ctx, None, detail)

    def swap_meta_audited(
        self, name: str, old: bytes, new: bytes, now: float, ctx: AuditContext, detail: str
    ) -> bool:
        """Replace ``name`` only if it still holds ``old``; audited as ``seal-rotated``."""
        with self._tx() as cur:
            self._run(
                cur, "UPDATE meta SET value = %s WHERE name = %s AND value = %s", new, name, old
            )
            if cur.rowcount != 1:
                return False
            sql.audit(self._run, cur, now, "seal-rotated", "", ctx, None, detail)
        return True

    def put_meta(self, name: str, value: bytes) -> bool:
        """Store ``value`` unless ``name`` exists; True if stored."""
        with self._tx() as cur:
            self._run(
                cur,
                "INSERT INTO meta (name, value) VALUES (%s, %s) ON CONFLICT (name) DO NOTHING",
                name,
                value,
            )
            return bool(cur.rowcount == 1)

    # -- registration --------------------------------------------------------------------
    def account_state(self, account: str) -> str | None:
        with self._tx() as cur:
            row = self._run(cur, "SELECT state FROM accounts WHERE account = %s", account)
            found = row.fetchone()
        return None if found is None else str(found[0])

    def register(self, new: NewRecord, now: float, ctx: AuditContext) -> str | None:
        """Create the account (or replace a ghost). Returns None, or the blocking state."""
        with self._tx() as cur:
            self._run(
                cur,
                "INSERT INTO accounts (account, state, cred_id, record, secret, ksf, attempts_left,"
                " max_attempts, generation, updated_at) VALUES (%s, 'active', %s, %s, %s, %s, %s,"
                " %s, 1, %s) ON CONFLICT (account) DO UPDATE SET state = 'active',"
                " cred_id = excluded.cred_id, record = excluded.record, secret = excluded.secret,"
                " ksf = excluded.ksf, attempts_left = excluded.attempts_left,"
                " max_attempts = excluded.max_attempts,"
                " generation = accounts.generation + 1, updated_at = excluded.updated_at"
                " WHERE accounts.state = 'ghost'",
                new.account,
                new.cred_id,
                new.record,
                new.secret,
                new.ksf,
                self.max_attempts,
                self.max_attempts,
                now,
            )
            if cur.rowcount == 1:
                self._audit(cur, now, "register", new.account, ctx, self.max_attempts)
                return None
            row = self._run(cur, "SELECT state FROM accounts WHERE account = %s", new.account)
            return str(row.fetchone()[0])

    # -- login ---------------------------------------------------------------------------
    def take_attempt(
        self,
        account: str,
        ghost: tuple[bytes, str],
        now: float,
        ctx: AuditContext,
        build: Callable[[AttemptRow], tuple[PendingRow, T]],
    ) -> T | None:
        """Spend one attempt and store the pending state ``build`` makes; None if locked.

        ``ghost`` is (credential identifier, KSF descriptor) used if the account is unknown.
        """
        with self._tx() as cur:
            row = self._spend(cur, account, now)
            if row is None:  # unknown (make a ghost), locked, or at zero: try once more
                self._insert_ghost(cur, account, ghost, now)
                row = self._spend(cur, account, now)
            if row is None:
                self._finalize_lock(cur, account, now, ctx)
                self._audit(cur, now, "refused-locked", account, ctx, 0)
                return None
            attempt = AttemptRow(
                account,
                None if row[0] is None else bytes(row[0]),
                bytes(row[1]),
                str(row[2]),
                int(row[3]),
                int(row[4]),
            )
            pending, result = build(attempt)
            self._record_attempt(cur, pending, now, ctx, attempt.attempts_left)
        return result

    def finish_login(
        self,
        attempt_id: bytes,
        now: float,
        ctx: AuditContext,
        verify: Callable[[PendingRow], bool],
        action: Action,
        grant: Callable[[PendingRow], GrantSpec] | None = None,
    ) -> Finish[bytes]:
        """Consume a pending attempt; if ``verify`` accepts it, carry out ``action``.

        For :attr:`Action.GRANT`, ``grant`` builds the grant to store once ``verify`` succeeded.
        """
        with self._tx() as cur:
            pending = self._take_pending(cur, attempt_id, "login")
            if pending is None:
                return Finish(Outcome.EXPIRED)
            if pending.expires_at <= now:
                late = self._failed(cur, pending, now, ctx)
                return Finish(Outcome.EXPIRED, late.account, late.attempts_left, late.locked)
            if not verify(pending):
                return self._failed(cur, pending, now, ctx)
            return self._succeed(cur, pending, now, ctx, action, grant)

    def abort_login(self, attempt_id: bytes, now: float, ctx: AuditContext) -> Finish[bytes]:
        """The client gave up on an attempt (wrong password): it stays a wrong guess."""
        with self._tx() as cur:
            pending = self._take_pending(cur, attempt_id, "login")
            if pending is None:
                return Finish(Outcome.EXPIRED)
            return self._failed(cur, pending, now, ctx)

    def commit_change(
        self,
        grant_id: bytes,
        now: float,
        ctx: AuditContext,
        verify: Callable[[PendingRow], bool],
        build: Callable[[PendingRow], NewRecord],
    ) -> Finish[bytes]:
        """Replace record and secret atomically under a verified grant."""
        with self._tx() as cur:
            pending = self._take_pending(cur, grant_id, "grant")
            if pending is None or pending.expires_at <= now:
                return Finish(Outcome.EXPIRED)
            if not verify(pending):
                self._audit(cur, now, "grant-refused", pending.account, ctx, None)
                return Finish(Outcome.FAILED, pending.account)
            new = build(pending)
            self._run(
                cur,
                "UPDATE accounts SET cred_id = %s, record = %s, secret = %s, ksf = %s,"
                " attempts_left = max_attempts, generation = generation + 1, updated_at = %s"
                " WHERE account = %s AND generation = %s AND state = 'active'",
                new.cred_id,
                new.record,
                new.secret,
                new.ksf,
                now,
                pending.account,
                pending.generation,
            )
            if cur.rowcount != 1:
                return Finish(Outcome.CONFLICT, pending.account)
            self._audit(cur, now, "password-change", pending.account, ctx, self.max_attempts)
            return Finish(Outcome.OK, pending.account, self.max_attempts)

    # -- the login's fast path (coffer.vault.fastpath) -------------------------------------
    def fast(self, request: StoreRequest) -> Any:
        """Answer one fast-path request with blocking calls (portable SQL by default)."""
        from coffer.vault import store_fast

        return store_fast.answer(self, request)

    def open_async(self) -> None:
        """Prepare :meth:`fast_async` for the running event loop (no-op without an async side)."""
        return None

    async def close_async(self) -> None:
        """Close what :meth:`open_async` opened on the running event loop."""
        return None

    def async_ready(self) -> bool:
        """True if :meth:`fast_async` can answer on the running event loop."""
        return False

    async def fast_async(self, request: StoreRequest) -> Any:
        """Answer one fast-path request without blocking the event loop (backends that can)."""
        raise NotImplementedError(f"{type(self).__name__} has no async side")

    def put_pending(self, pending: PendingRow) -> None:
        with self._tx() as cur:
            self._insert_pending(cur, pending)

    # -- queries and housekeeping --------------------------------------------------------
    def attempts_left(self, account: str, now: float, ctx: AuditContext) -> tuple[int, bool]:
        """(attempts left, locked) — an account never seen reads as a fresh ghost."""
        with self._tx() as cur:
            self._finalize_lock(cur, account, now, ctx)
            row = self._run(
                cur, "SELECT attempts_left, state FROM accounts WHERE account = %s", account
            ).fetchone()
        if row is None:
            return self.max_attempts, False
        left = int(row[0])
        return left, row[1] == LOCKED or left == 0

    def sweep(self, now: float, ctx: AuditContext) -> int:
        """Drop expired pending rows and lock accounts they leave at zero; returns locks made."""
        with self._tx() as cur:
            rows = self._run(
                cur, "SELECT DISTINCT account FROM pending WHERE expires_at <= %s", now
            ).fetchall()
        locked = 0
        for account in sorted(str(r[0]) for r in rows):
            with self._tx() as cur:
                self._lock_account(cur, account)
                self._run(
                    cur,
                    "DELETE FROM pending WHERE account = %s AND expires_at <= %s",
                    account,
                    now,
                )
                locked += self._finalize_lock(cur, account, now, ctx)
        return locked

    def audit_events(self, account: str | None = None) -> list[dict[str, Any]]:
        """The audit log (oldest first), optionally for one account."""
        sql = "SELECT seq, ts, event, account, client, node, attempts_left, detail FROM audit"
        params: tuple[Any, ...] = ()
        if account is not None:
            sql, params = sql + " WHERE account = %s", (account,)
        with self._tx() as cur:
            rows = self._run(cur, sql + " ORDER BY seq", *params).fetchall()
        keys = ("seq", "ts", "event", "account", "client", "node", "attempts_left", "detail")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def raw_account(self, account: str) -> dict[str, Any] | None:
        """The stored row (for tests and operators' inspection tools)."""
        with self._tx() as cur:
            row = self._run(
                cur,
                "SELECT state, record, secret, attempts_left, generation FROM accounts"
                " WHERE account = %s",
                account,
            ).fetchone()
        if row is None:
            return None
        keys = ("state", "record", "secret", "attempts_left", "generation")
        return dict(zip(keys, row, strict=True))

    # -- internals -----------------------------------------------------------------------
    def _spend(self, cur: Cursor, account: str, now: float) -> Any:
        return sql.spend(self._run, cur, account, now)

    def _insert_ghost(
        self, cur: Cursor, account: str, ghost: tuple[bytes, str], now: float
    ) -> None:
        sql.insert_ghost(self._run, cur, account, ghost, now, self.max_attempts)

    def _insert_pending(self, cur: Cursor, p: PendingRow) -> None:
        sql.insert_pending(self._run, cur, p)

    def _take_pending(self, cur: Cursor, pid: bytes, kind: str) -> PendingRow | None:
        if self._peek_and_lock(cur, pid, kind) is None:
            return None
        return sql.delete_pending(self._run, cur, pid, kind)

    def _peek_and_lock(self, cur: Cursor, pid: bytes, kind: str) -> str | None:
        """The pending row's account, with the account row locked (:meth:`_lock_account`)."""
        account = sql.peek_pending(self._run, cur, pid, kind)
        if account is not None:
            self._lock_account(cur, account)
        return account

    def _record_attempt(
        self, cur: Cursor, pending: PendingRow, now: float, ctx: AuditContext, left: int
    ) -> None:
        """Store the pending attempt and its audit row (backends may do both in one trip)."""
        self._insert_pending(cur, pending)
        self._audit(cur, now, "attempt", pending.account, ctx, left)

    def _failed(
        self, cur: Cursor, pending: PendingRow, now: float, ctx: AuditContext
    ) -> Finish[bytes]:
        locked = bool(self._finalize_lock(cur, pending.account, now, ctx))
        row = self._run(
            cur, "SELECT attempts_left, state FROM accounts WHERE account = %s", pending.account
        ).fetchone()
        left = 0 if row is None else int(row[0])
        locked = locked or (row is not None and row[1] == LOCKED)
        self._audit(cur, now, "failure", pending.account, ctx, left)
        return Finish(Outcome.FAILED, pending.account, left, locked)

    def _succeed(
        self,
        cur: Cursor,
        pending: PendingRow,
        now: float,
        ctx: AuditContext,
        action: Action,
        grant: Callable[[PendingRow], GrantSpec] | None,
    ) -> Finish[bytes]:
        if action is Action.DELETE:
            if not sql.delete_account(self._run, cur, pending):
                return Finish(Outcome.CONFLICT, pending.account)
            self._run(cur, "DELETE FROM pending WHERE account = %s", pending.account)
            self._audit(cur, now, "delete", pending.account, ctx, None)
            return Finish(Outcome.OK, pending.account)
        row = self._restore_and_audit(cur, pending, now, ctx)
        if row is None:
            return Finish(Outcome.CONFLICT, pending.account)
        if action is Action.GRANT and grant is not None:
            g = grant(pending)
            spec = PendingRow(
                g.id, pending.account, "grant", pending.generation, g.sealed, g.expires_at
            )
            self._insert_pending(cur, spec)
        return Finish(Outcome.OK, pending.account, int(row[1]), False, bytes(row[0]))

    def _restore_and_audit(
        self, cur: Cursor, pending: PendingRow, now: float, ctx: AuditContext
    ) -> Any:
        """Full allowance after a verified KE3, and its ``success`` audit row: (secret, left)
        or None if the account changed (backends may do both in one trip)."""
        row = sql.restore_allowance(self._run, cur, pending, now)
        if row is not None:
            self._audit(cur, now, "success", pending.account, ctx, int(row[1]))
        return row

    def _finalize_lock(self, cur: Cursor, account: str, now: float, ctx: AuditContext) -> int:
        if not sql.lock_if_spent(self._run, cur, account, now):
            return 0
        self._run(cur, "DELETE FROM pending WHERE account = %s", account)
        self._audit(cur, now, "lockout", account, ctx, 0)
        return 1

    def _audit(
        self,
        cur: Cursor,
        now: float,
        event: str,
        account: str,
        ctx: AuditContext,
        attempts_left: int | None,
    ) -> None:
        sql.audit(self._run, cur, now, event, account, ctx, attempts_left)
        if self.on_event is not None:
            self.on_event(event)
