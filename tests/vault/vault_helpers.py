"""Shared constants and helpers of the vault tests (importable: tests run in prepend mode)."""

from __future__ import annotations

import os
import uuid

import psycopg

from coffer.opaque import Argon2idKSF
from coffer.vault import wire
from coffer.vault.app import HttpSettings
from coffer.vault.protocol import VaultSettings
from coffer.vault.ratelimit import Limit
from coffer.vault.store_postgres import PostgresStore

FAST_KSF = Argon2idKSF(memory_kib=64, iterations=1, parallelism=1)
SETTINGS = VaultSettings(max_attempts=10, default_ksf=wire.ksf_to_json(FAST_KSF), node="test")
OPEN_LIMITS = HttpSettings(per_address=Limit(0, 0), per_account=Limit(0, 0))

_PG_CANDIDATES = (
    "host=127.0.0.1 port=5432 user=postgres dbname=test",
    "host=127.0.0.1 port=5432 user=root dbname=test",
)


def _find_pg() -> str | None:
    for dsn in _PG_CANDIDATES:
        try:
            with psycopg.connect(dsn, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return dsn
        except psycopg.Error:
            continue
    return None


PG_DSN = _find_pg()


def new_pg_store(dsn: str, max_attempts: int = 10) -> PostgresStore:
    """A store in a fresh schema, so parallel runs never share tables."""
    return PostgresStore(dsn, f"vt_{os.getpid()}_{uuid.uuid4().hex[:10]}", max_attempts)
