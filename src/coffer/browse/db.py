"""Read-only access to a rebuilt database: one connection per thread, ``immutable=1``.

Rules: the file lives in the private workspace and never changes once rebuilt, so it is opened
``mode=ro&immutable=1`` (no locks, no -shm file, no journal replay, no write possible).
:class:`Probe` is what adapters look at to recognise a schema: table names and their columns.
"""

from __future__ import annotations

import sqlite3
import threading
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Row = tuple[Any, ...]


def uri_for(path: Path) -> str:
    quoted = urllib.parse.quote(str(path.resolve()))
    return f"file:{quoted}?mode=ro&immutable=1"


class Database:
    """A rebuilt SQLite file opened read-only, usable from any thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(uri_for(self.path), uri=True, check_same_thread=False)
            conn.text_factory = _lenient_text
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return list(self.connection().execute(sql, params).fetchall())

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        row = self.connection().execute(sql, params).fetchone()
        return tuple(row) if row is not None else None

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()


def _lenient_text(raw: bytes) -> str:
    """Text columns with invalid UTF-8 (apps store some) are shown, not fatal."""
    return raw.decode("utf-8", "replace")


@dataclass(frozen=True)
class Probe:
    """A database's tables and their columns, for adapters' ``recognise``."""

    tables: dict[str, frozenset[str]]

    @classmethod
    def of(cls, db: Database) -> Probe:
        tables: dict[str, frozenset[str]] = {}
        for (name,) in db.rows("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"):
            cols = db.rows(f"PRAGMA table_info({quote_ident(name)})")
            tables[str(name)] = frozenset(str(c[1]) for c in cols)
        return cls(tables)

    def has(self, table: str, *columns: str) -> bool:
        cols = self.tables.get(table)
        return cols is not None and all(c in cols for c in columns)


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
