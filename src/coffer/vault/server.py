"""Assembling a vault node: open the store, create or unseal the server setup, build the app.

Rules: ``init`` refuses to run twice on one database (the setup is created exactly once and
stored with ``INSERT … ON CONFLICT DO NOTHING``); ``load`` unseals the stored setup, checks it
against the stored public key, and fails with :class:`SealError` if the seal key is missing or
wrong — a node never generates a new setup on its own.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from coffer.opaque import EncodingError, ServerSetup
from coffer.vault.errors import SealError, VaultConfigError
from coffer.vault.protocol import VaultCore, VaultSettings
from coffer.vault.seal import Sealer
from coffer.vault.store import SqlStore
from coffer.vault.store_postgres import PostgresStore
from coffer.vault.store_sqlite import SqliteStore

META_SETUP = "server_setup.sealed"
META_PUBLIC_KEY = "server_public_key"


def open_store(
    database: str, *, max_attempts: int = 10, pg_schema: str = "coffer_vault"
) -> SqlStore:
    """``postgresql://…`` / ``postgres://…`` / a libpq ``key=value`` string, or a SQLite path
    (optionally ``sqlite:///path``)."""
    if database.startswith(("postgresql://", "postgres://")) or "dbname=" in database:
        return PostgresStore(database, pg_schema, max_attempts)
    path = database.removeprefix("sqlite://")
    if not path:
        raise VaultConfigError("empty database path")
    return SqliteStore(Path(path), max_attempts)


def init_vault(
    store: SqlStore, sealer: Sealer, rng: Callable[[int], bytes] = os.urandom
) -> ServerSetup:
    """Create the schema and a fresh sealed server setup; refuses if one exists."""
    store.create_schema()
    if store.get_meta(META_SETUP) is not None:
        raise VaultConfigError("this vault database is already initialised")
    setup = ServerSetup.generate(rng)
    if not store.put_meta(META_SETUP, sealer.seal(setup.to_bytes())):
        raise VaultConfigError("this vault database is already initialised")
    store.put_meta(META_PUBLIC_KEY, setup.public_key)
    return setup


def load_setup(store: SqlStore, sealer: Sealer) -> ServerSetup:
    """Unseal the stored setup; :class:`SealError` unless it opens and matches the public key."""
    sealed = store.get_meta(META_SETUP)
    public = store.get_meta(META_PUBLIC_KEY)
    if sealed is None or public is None:
        raise VaultConfigError("this vault database has no server setup: run `vault init` first")
    try:
        setup = ServerSetup.from_bytes(sealer.unseal(sealed))
    except EncodingError:
        raise SealError("the unsealed server setup is malformed") from None
    if setup.public_key != public:
        raise SealError("the unsealed server setup does not match the stored public key")
    return setup


def load_core(store: SqlStore, sealer: Sealer, settings: VaultSettings | None = None) -> VaultCore:
    """A ready :class:`VaultCore` for ``store`` (schema created if missing)."""
    store.create_schema()
    return VaultCore(load_setup(store, sealer), store, settings, clock=time.time)
