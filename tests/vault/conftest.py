"""Fixtures for the vault tests: real stores (SQLite file, PostgreSQL schema), a real sealed
server setup, the real app in process (Starlette TestClient) and the real client on top."""

from __future__ import annotations

import os
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from coffer.vault.app import create_app
from coffer.vault.client import VaultClient
from coffer.vault.protocol import VaultCore
from coffer.vault.seal import KeyFileSealer
from coffer.vault.server import init_vault, load_core
from coffer.vault.store import SqlStore
from coffer.vault.store_postgres import PostgresStore
from coffer.vault.store_sqlite import SqliteStore

from .vault_helpers import OPEN_LIMITS, PG_DSN, SETTINGS, new_pg_store


@pytest.fixture(scope="session")
def pg_dsn() -> str:
    if PG_DSN is None:
        pytest.skip(
            "PostgreSQL not reachable on 127.0.0.1:5432 (database 'test', user postgres/root)"
        )
    return PG_DSN


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


SOFTHSM_LIB = "/usr/lib/softhsm/libsofthsm2.so"
HSM_PIN = "4321"


@pytest.fixture(scope="session")
def softhsm_token(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One token per test process: SoftHSM2 reads SOFTHSM2_CONF once, when first loaded."""
    if not os.path.exists(SOFTHSM_LIB) or shutil.which("softhsm2-util") is None:
        pytest.skip(f"SoftHSM2 not installed ({SOFTHSM_LIB}); apt-get install softhsm2")
    base = tmp_path_factory.mktemp("softhsm")
    (base / "tokens").mkdir()
    conf = base / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {base / 'tokens'}\nobjectstore.backend = file\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(
        [
            "softhsm2-util",
            "--init-token",
            "--free",
            "--label",
            "vt",
            "--pin",
            HSM_PIN,
            "--so-pin",
            "8765",
        ],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
    )
    return "vt"
