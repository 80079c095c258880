"""Shared helpers of the password tests: the CLI in process, a real vault in process, PostgreSQL."""

from __future__ import annotations

import hashlib
import os
import uuid
import warnings
from pathlib import Path

import psycopg
import pytest
from engine.cli_support import Run as Run  # re-exported: the one in-process CLI runner
from engine.cli_support import run_cli as run_cli

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from coffer.opaque import Argon2idKSF
from coffer.unlock import vault_route as unlock
from coffer.vault import wire
from coffer.vault.app import HttpSettings, create_app
from coffer.vault.protocol import VaultCore, VaultSettings
from coffer.vault.ratelimit import Limit
from coffer.vault.seal import KeyFileSealer
from coffer.vault.server import init_vault, load_core
from coffer.vault.store import SqlStore
from coffer.vault.store_postgres import PostgresStore
from coffer.vault.store_sqlite import SqliteStore

LIGHT_KSF = Argon2idKSF(memory_kib=64, iterations=1, parallelism=1)
SETTINGS = VaultSettings(default_ksf=wire.ksf_to_json(LIGHT_KSF), node="pw")
OPEN_LIMITS = HttpSettings(per_address=Limit(0, 0), per_account=Limit(0, 0))
PASSWORD = "violet kettle orbit marsh 59"
NEW_PASSWORD = "copper lantern drifts seaward 17"
WRONG = "amber falcon ripple quarry 83"
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


class InProcessVault:
    """The real vault app on a real store, reached in process by the CLI's vault client."""

    def __init__(self, folder: Path, kind: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.kind = kind
        self.store = self._store(folder, kind)
        self.store.create_schema()
        self.sealer = KeyFileSealer.create(folder / "seal.key")
        init_vault(self.store, self.sealer)
        self.core: VaultCore = load_core(self.store, self.sealer, SETTINGS)
        self.url = f"http://vault-{uuid.uuid4().hex[:8]}.test"
        self.http = TestClient(create_app(self.core, OPEN_LIMITS), base_url=self.url)
        self.http.__enter__()
        unlock.register_transport(self.url, self.http._transport)

    @staticmethod
    def _store(folder: Path, kind: str) -> SqlStore:
        if kind == "sqlite":
            return SqliteStore(folder / "vault.db")
        if PG_DSN is None:
            pytest.skip("PostgreSQL not reachable on 127.0.0.1:5432 (database 'test')")
        return PostgresStore(PG_DSN, f"pw_{os.getpid()}_{uuid.uuid4().hex[:10]}", 10)

    @property
    def fingerprint(self) -> str:
        from coffer.vault._crypto import fingerprint

        return fingerprint(self.core.setup.public_key)

    def close(self) -> None:
        unlock.register_transport(self.url, None)
        self.http.__exit__(None, None, None)
        if isinstance(self.store, PostgresStore):
            self.store.drop_schema()
        self.store.close()


def tree_digest(root: Path) -> dict[str, str]:
    """Every file under ``root`` → SHA-256 of its bytes (to show nothing was rewritten)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def make_source(root: Path) -> Path:
    """A small chat-store-like tree."""
    import random

    rng = random.Random(7)
    (root / "media").mkdir(parents=True)
    (root / "msgstore.txt").write_text("hello from the old phone\n" * 2000)
    (root / "media" / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0" + rng.randbytes(150_000))
    (root / "media" / "note.opus").write_bytes(b"OggS" + rng.randbytes(20_000))
    return root
