"""Fixtures for the vault tests: real stores (SQLite file, PostgreSQL schema), a real sealed
server setup, the real app in process (Starlette TestClient) and the real client on top."""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from coffer.opaque import Argon2idKSF
from coffer.vault import wire
from coffer.vault.app import HttpSettings, create_app
from coffer.vault.client import VaultClient
from coffer.vault.protocol import VaultCore, VaultSettings
from coffer.vault.ratelimit import Limit
from coffer.vault.seal import KeyFileSealer
from coffer.vault.server import init_vault, load_core
from coffer.vault.store import SqlStore
from coffer.vault.store_postgres import PostgresStore
from coffer.vault.store_sqlite import SqliteStore

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


_PG_DSN = _find_pg()


@pytest.fixture(scope="session")
def pg_dsn() -> str:
    if _PG_DSN is None:
        pytest.skip(
            "PostgreSQL not reachable on 127.0.0.1:5432 (database 'test', user postgres/root)"
        )
    return _PG_DSN


def new_pg_store(dsn: str, max_attempts: int = 10) -> PostgresStore:
    return PostgresStore(dsn, f"vt_{os.getpid()}_{uuid.uuid4().hex[:10]}", max_attempts)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    st: SqlStore
    if request.param == "sqlite":
        st = SqliteStore(tmp_path / "vault.db")
    else:
        st = new_pg_store(request.getfixturevalue("pg_dsn"))
    st.create_schema()
    yield st
    if isinstance(st, PostgresStore):
        st.drop_schema()
    st.close()


@pytest.fixture
def sealer(tmp_path: Path) -> KeyFileSealer:
    return KeyFileSealer.create(tmp_path / "seal.key")


@pytest.fixture
def core(store: SqlStore, sealer: KeyFileSealer) -> VaultCore:
    init_vault(store, sealer)
    return load_core(store, sealer, SETTINGS)


@pytest.fixture
def http(core: VaultCore) -> Iterator[TestClient]:
    with TestClient(create_app(core, OPEN_LIMITS), base_url="http://vault.test") as tc:
        yield tc


@pytest.fixture
def client(http: TestClient, core: VaultCore) -> VaultClient:
    return VaultClient("http://vault.test", pinned_key=core.setup.public_key, transport=http)
