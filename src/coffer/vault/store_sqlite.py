"""SQLite store: the embedded default, for a single vault node (several threads).

Rules: WAL journal with ``synchronous=FULL`` so a commit is durable when ``COMMIT`` returns;
every transaction starts with ``BEGIN IMMEDIATE`` (takes the write lock up front, so two
transactions can never both read a counter and then both write it); one connection per thread;
a 30 s busy timeout instead of failing under contention. Inside one process the writers queue on
a lock before ``BEGIN IMMEDIATE`` (SQLite admits one writer anyway, and its busy handler's
sleep-and-retry gives long latency tails under contention; a lock hands over at once).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from coffer.vault.errors import StoreError
from coffer.vault.store import Cursor, SqlStore

DDL = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (
  account TEXT PRIMARY KEY,
  state TEXT NOT NULL CHECK (state IN ('active', 'locked', 'ghost')),
  cred_id BLOB NOT NULL,
  record BLOB,
  secret BLOB,
  ksf TEXT NOT NULL,
  attempts_left INTEGER NOT NULL CHECK (attempts_left >= 0),
  max_attempts INTEGER NOT NULL,
  generation INTEGER NOT NULL,
  updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS pending (
  id BLOB PRIMARY KEY,
  account TEXT NOT NULL,
  kind TEXT NOT NULL,
  generation INTEGER NOT NULL,
  sealed BLOB NOT NULL,
  expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS pending_account ON pending (account, kind, expires_at);
CREATE INDEX IF NOT EXISTS pending_expiry ON pending (expires_at);
CREATE TABLE IF NOT EXISTS audit (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  ts REAL NOT NULL,
  event TEXT NOT NULL,
  account TEXT NOT NULL,
  client TEXT NOT NULL,
  node TEXT NOT NULL,
  attempts_left INTEGER
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TABLE IF NOT EXISTS audit_horizon (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  horizon REAL NOT NULL
);
DROP TRIGGER IF EXISTS audit_no_delete;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
  WHEN OLD.ts >= (SELECT COALESCE(MAX(horizon), 0) FROM audit_horizon)
  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_horizon_forward BEFORE UPDATE ON audit_horizon
  WHEN NEW.horizon < OLD.horizon
  BEGIN SELECT RAISE(ABORT, 'the audit horizon only moves forward'); END;
CREATE TRIGGER IF NOT EXISTS audit_horizon_kept BEFORE DELETE ON audit_horizon
  BEGIN SELECT RAISE(ABORT, 'the audit horizon only moves forward'); END;
CREATE TABLE IF NOT EXISTS rate_limits (key TEXT PRIMARY KEY, tat REAL NOT NULL);
CREATE INDEX IF NOT EXISTS accounts_ghost_age ON accounts (state, updated_at);
CREATE TABLE IF NOT EXISTS witnesses (
  witness_id BLOB PRIMARY KEY,
  public_key BLOB NOT NULL,
  created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS witness_rows (
  witness_id BLOB NOT NULL REFERENCES witnesses (witness_id),
  writer TEXT NOT NULL,
  seq INTEGER NOT NULL CHECK (seq > 0),
  digest BLOB NOT NULL,
  signature BLOB NOT NULL,
  updated_at REAL NOT NULL,
  PRIMARY KEY (witness_id, writer)
);
"""


class SqliteStore(SqlStore):
    """A vault database in one SQLite file."""

    def __init__(self, path: Path, max_attempts: int = 10) -> None:
        super().__init__(max_attempts)
        self.path = Path(path)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._writer = threading.Lock()

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r})"

    def _q(self, sql: str) -> str:
        return sql.replace("%s", "?")

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                self._create_private()
                conn = sqlite3.connect(
                    self.path, isolation_level=None, timeout=30.0, check_same_thread=False
                )
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
            except (OSError, sqlite3.Error) as exc:
                raise StoreError(f"cannot open vault database {self.path}: {exc}") from None
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def _create_private(self) -> None:
        """Create the database file as 0600 (its WAL and SHM files inherit the mode)."""
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))

    @contextmanager
    def _tx(self) -> Iterator[Cursor]:
        conn = self._conn()
        with self._writer:
            try:
                cur = conn.cursor()
                cur.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreError(f"vault database {self.path}: {exc}") from None
            try:
                yield cur
            except sqlite3.Error as exc:
                conn.rollback()
                raise StoreError(f"vault database {self.path}: {exc}") from None
            except BaseException:
                conn.rollback()
                raise
            try:
                conn.commit()
            except sqlite3.Error as exc:
                raise StoreError(f"vault database commit failed: {exc}") from None

    def _lock_account(self, cur: Cursor, account: str) -> None:
        """Nothing to do: ``BEGIN IMMEDIATE`` already serialises every transaction."""

    @contextmanager
    def _quick(self) -> Iterator[Cursor]:
        """Rate-limit buckets: a connection of their own with ``synchronous=OFF`` (a bucket
        lost in a power cut only refills early; it needs no fsync per request)."""
        conn: sqlite3.Connection | None = getattr(self._local, "quick", None)
        if conn is None:
            self._conn()  # creates the file 0600 first
            try:
                conn = sqlite3.connect(
                    self.path, isolation_level=None, timeout=30.0, check_same_thread=False
                )
                conn.execute("PRAGMA synchronous=OFF")
            except sqlite3.Error as exc:
                raise StoreError(f"cannot open vault database {self.path}: {exc}") from None
            self._local.quick = conn
            with self._lock:
                self._all.append(conn)
        with self._writer:
            try:
                cur = conn.cursor()
                cur.execute("BEGIN IMMEDIATE")
                yield cur
                conn.commit()
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.rollback()
                raise StoreError(f"vault database {self.path}: {exc}") from None

    def create_schema(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = self._conn()
            with self._writer:
                conn.executescript(DDL)
                columns = {r[1] for r in conn.execute("PRAGMA table_info(audit)")}
                if "detail" not in columns:  # databases made before audit details existed
                    conn.execute("ALTER TABLE audit ADD COLUMN detail TEXT")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot create the vault schema in {self.path}: {exc}") from None

    def close(self) -> None:
        # every use of a connection holds the writer lock (_tx, _quick, create_schema): taking it
        # here waits for a transaction another thread is still running (a housekeeping duty
        # outlives the task that awaited it) instead of closing its connection under it, which
        # crashed the interpreter
        with self._writer, self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()
