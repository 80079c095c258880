"""PostgreSQL store (psycopg 3): one database behind any number of vault nodes.

Rules: READ COMMITTED transactions in which every counter change is one ``UPDATE … WHERE …
RETURNING`` statement (PostgreSQL re-checks the WHERE clause on the newest row version after
waiting for a concurrent writer, so two nodes can never both spend the last attempt); commits are
synchronous (the server default), so a decrement is on disk before the node sends KE2. Each store
lives in one PostgreSQL schema (``search_path``), so test runs and tenants do not collide. A small
bounded connection pool per process; a broken connection is dropped, never reused.

Also usable with PostgreSQL-compatible distributed SQL engines that support ``RETURNING`` and
``ON CONFLICT`` (their SERIALIZABLE default turns races into retryable errors, reported as
:class:`StoreError`).
"""

from __future__ import annotations

import asyncio
import queue
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from coffer.vault import store_pgfast as pgfast
from coffer.vault.errors import StoreError, VaultConfigError
from coffer.vault.fastpath import StoreRequest
from coffer.vault.pg_async import FastPool
from coffer.vault.records import AuditContext, PendingRow
from coffer.vault.store import Cursor, SqlStore

DDL = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (
  account TEXT PRIMARY KEY,
  state TEXT NOT NULL CHECK (state IN ('active', 'locked', 'ghost')),
  cred_id BYTEA NOT NULL,
  record BYTEA,
  secret BYTEA,
  ksf TEXT NOT NULL,
  attempts_left INTEGER NOT NULL CHECK (attempts_left >= 0),
  max_attempts INTEGER NOT NULL,
  generation BIGINT NOT NULL,
  updated_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS pending (
  id BYTEA PRIMARY KEY,
  account TEXT NOT NULL,
  kind TEXT NOT NULL,
  generation BIGINT NOT NULL,
  sealed BYTEA NOT NULL,
  expires_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS pending_account ON pending (account, kind, expires_at);
CREATE INDEX IF NOT EXISTS pending_expiry ON pending (expires_at);
CREATE TABLE IF NOT EXISTS audit (
  seq BIGSERIAL PRIMARY KEY,
  ts DOUBLE PRECISION NOT NULL,
  event TEXT NOT NULL,
  account TEXT NOT NULL,
  client TEXT NOT NULL,
  node TEXT NOT NULL,
  attempts_left INTEGER
);
ALTER TABLE audit ADD COLUMN IF NOT EXISTS detail TEXT;
CREATE TABLE IF NOT EXISTS audit_horizon (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  horizon DOUBLE PRECISION NOT NULL
);
CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND OLD.ts < (SELECT COALESCE(MAX(horizon), 0) FROM audit_horizon) THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'audit log is append-only';
END $$;
DROP TRIGGER IF EXISTS audit_no_change ON audit;
CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit
  FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE OR REPLACE FUNCTION audit_horizon_forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.horizon >= OLD.horizon THEN RETURN NEW; END IF;
  RAISE EXCEPTION 'the audit horizon only moves forward';
END $$;
DROP TRIGGER IF EXISTS audit_horizon_forward ON audit_horizon;
CREATE TRIGGER audit_horizon_forward BEFORE UPDATE OR DELETE ON audit_horizon
  FOR EACH ROW EXECUTE FUNCTION audit_horizon_forward();
CREATE UNLOGGED TABLE IF NOT EXISTS rate_limits (
  key TEXT PRIMARY KEY,
  tat DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS accounts_ghost_age ON accounts (state, updated_at);
CREATE TABLE IF NOT EXISTS witnesses (
  witness_id BYTEA PRIMARY KEY,
  public_key BYTEA NOT NULL,
  created_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS witness_rows (
  witness_id BYTEA NOT NULL REFERENCES witnesses (witness_id),
  writer TEXT NOT NULL,
  seq BIGINT NOT NULL CHECK (seq > 0),
  digest BYTEA NOT NULL,
  signature BYTEA NOT NULL,
  updated_at DOUBLE PRECISION NOT NULL,
  PRIMARY KEY (witness_id, writer)
);
"""

_SCHEMA_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class PostgresStore(SqlStore):
    """A vault database in one schema of a PostgreSQL database."""

    def __init__(
        self, dsn: str, schema: str = "coffer_vault", max_attempts: int = 10, pool_size: int = 8
    ) -> None:
        super().__init__(max_attempts)
        if not _SCHEMA_RE.match(schema):
            raise VaultConfigError(f"invalid PostgreSQL schema name {schema!r}")
        self.dsn = dsn
        self.schema = schema
        self._pool: queue.LifoQueue[psycopg.Connection[Any] | None] = queue.LifoQueue()
        for _ in range(pool_size):
            self._pool.put(None)
        self._all: list[psycopg.Connection[Any]] = []
        self._lock = threading.Lock()
        self.pool_size = pool_size
        self._apool: FastPool | None = None

    def __repr__(self) -> str:
        return f"PostgresStore(schema={self.schema!r})"

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            conn = psycopg.connect(
                self.dsn, autocommit=True, options=f"-c search_path={self.schema}"
            )
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to PostgreSQL: {exc}".strip()) from None
        with self._lock:
            self._all.append(conn)
        return conn

    @contextmanager
    def _tx(self) -> Iterator[Cursor]:
        conn = self._pool.get()
        try:
            if conn is None or conn.broken or conn.closed:
                conn = self._connect()
            with conn.transaction(), conn.cursor() as cur:
                yield cur
        except psycopg.Error as exc:
            raise StoreError(f"PostgreSQL: {type(exc).__name__}: {exc}".strip()) from None
        finally:
            self._pool.put(conn)

    @contextmanager
    def _quick(self) -> Iterator[Cursor]:
        """One statement in autocommit: a single round trip (rate-limit buckets live in an
        UNLOGGED table, so their commits do not wait for a WAL flush)."""
        conn = self._pool.get()
        try:
            if conn is None or conn.broken or conn.closed:
                conn = self._connect()
            with conn.cursor() as cur:
                yield cur
        except psycopg.Error as exc:
            raise StoreError(f"PostgreSQL: {type(exc).__name__}: {exc}".strip()) from None
        finally:
            self._pool.put(conn)

    # -- the fast path: one statement per request (coffer.vault.store_pgfast) ----------------
    def fast(self, request: StoreRequest) -> Any:
        sql, params = pgfast.statement(request)
        with self._quick() as cur:
            answer = pgfast.result(request, cur.execute(sql, params, prepare=True).fetchone())
            if isinstance(answer, pgfast.Refused):
                row = cur.execute(*pgfast.wait_statement(answer.charge)).fetchone()
                wait = pgfast.wait_seconds(answer.charge, row, getattr(request, "now", 0.0))
                answer = pgfast.refused(request, wait)
        self._count(request, answer)
        return answer

    def open_async(self) -> None:
        """Give the running event loop its own connections for :meth:`fast_async` (opened
        lazily; a vault node calls this at start-up, in each worker process)."""
        self._apool = FastPool(self.dsn, self.schema, self.pool_size)

    async def close_async(self) -> None:
        if not self.async_ready():
            return  # another event loop's (an app started later on this store took over)
        pool, self._apool = self._apool, None
        assert pool is not None
        await pool.close()

    def async_ready(self) -> bool:
        try:
            return self._apool is not None and asyncio.get_running_loop() is self._apool.loop
        except RuntimeError:
            return False

    async def fast_async(self, request: StoreRequest) -> Any:
        assert self._apool is not None
        answer = pgfast.result(request, await self._apool.row(*pgfast.statement(request)))
        if isinstance(answer, pgfast.Refused):
            row = await self._apool.row(*pgfast.wait_statement(answer.charge))
            answer = pgfast.refused(request, pgfast.wait_seconds(answer.charge, row, request.now))
        self._count(request, answer)
        return answer

    def _count(self, request: StoreRequest, answer: Any) -> None:
        if self.on_event is not None:
            for event in pgfast.events(request, answer):
                self.on_event(event)

    def _peek_and_lock(self, cur: Cursor, pid: bytes, kind: str) -> str | None:
        """One round trip: find the pending row and lock its account row."""
        row = cur.execute(
            "SELECT a.account FROM pending p JOIN accounts a ON a.account = p.account"
            " WHERE p.id = %s AND p.kind = %s FOR UPDATE OF a",
            (pid, kind),
        ).fetchone()
        return None if row is None else str(row[0])

    def _record_attempt(
        self, cur: Cursor, pending: PendingRow, now: float, ctx: AuditContext, left: int
    ) -> None:
        """The pending row and its audit row in one statement (one round trip)."""
        p = pending
        cur.execute(
            "WITH p AS (INSERT INTO pending (id, account, kind, generation, sealed, expires_at)"
            " VALUES (%s, %s, %s, %s, %s, %s))"
            " INSERT INTO audit (ts, event, account, client, node, attempts_left, detail)"
            " VALUES (%s, 'attempt', %s, %s, %s, %s, NULL)",
            (
                p.id,
                p.account,
                p.kind,
                p.generation,
                p.sealed,
                p.expires_at,
                now,
                p.account,
                ctx.client,
                ctx.node,
                left,
            ),
        )
        if self.on_event is not None:
            self.on_event("attempt")

    def _restore_and_audit(
        self, cur: Cursor, pending: PendingRow, now: float, ctx: AuditContext
    ) -> Any:
        """Restore the allowance and write the ``success`` row in one statement."""
        row = cur.execute(
            "WITH r AS (UPDATE accounts SET attempts_left = max_attempts, updated_at = %s"
            " WHERE account = %s AND generation = %s AND state = 'active'"
            " RETURNING secret, attempts_left),"
            " a AS (INSERT INTO audit (ts, event, account, client, node, attempts_left, detail)"
            " SELECT %s, 'success', %s, %s, %s, attempts_left, NULL FROM r)"
            " SELECT secret, attempts_left FROM r",
            (now, pending.account, pending.generation, now, pending.account, ctx.client, ctx.node),
        ).fetchone()
        if row is not None and self.on_event is not None:
            self.on_event("success")
        return row

    def _lock_account(self, cur: Cursor, account: str) -> None:
        cur.execute("SELECT 1 FROM accounts WHERE account = %s FOR UPDATE", (account,))

    def create_schema(self) -> None:
        with self._tx() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(7301)")
            cur.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            cur.execute(DDL)

    def drop_schema(self) -> None:
        """Remove the whole schema (tests and teardown only)."""
        with self._tx() as cur:
            cur.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
