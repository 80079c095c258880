"""Assembling a vault node: open the store, create or unseal the server setup, build the app.

Rules: ``init`` refuses to run twice on one database (the setup is created exactly once and
stored with ``INSERT … ON CONFLICT DO NOTHING``); ``load`` unseals the stored setup, checks it
against the stored public key, and fails with :class:`SealError` if the seal key is missing or
wrong — a node never generates a new setup on its own.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from coffer.opaque import EncodingError, ServerSetup
from coffer.vault import settings as settings_doc
from coffer.vault.errors import SealError, VaultConfigError
from coffer.vault.protocol import VaultCore, VaultSettings
from coffer.vault.records import AuditContext
from coffer.vault.seal import Sealer
from coffer.vault.settings import META_SETTINGS
from coffer.vault.store import SqlStore
from coffer.vault.store_sqlite import SqliteStore

META_SETUP = "server_setup.sealed"
META_PUBLIC_KEY = "server_public_key"


def open_store(
    database: str, *, max_attempts: int = 10, pg_schema: str = "coffer_vault"
) -> SqlStore:
    """``postgresql://…`` / ``postgres://…`` / a libpq ``key=value`` string, or a SQLite path
    (optionally ``sqlite:///path``)."""
    if database.startswith(("postgresql://", "postgres://")) or "dbname=" in database:
        from coffer._extras import require

        require("vault", "a PostgreSQL vault store")
        from coffer.vault.store_postgres import PostgresStore  # psycopg only when asked for

        return PostgresStore(database, pg_schema, max_attempts)
    path = database.removeprefix("sqlite://")
    if not path:
        raise VaultConfigError("empty database path")
    return SqliteStore(Path(path), max_attempts)


def init_vault(
    store: SqlStore,
    sealer: Sealer,
    rng: Callable[[int], bytes] = os.urandom,
    settings: VaultSettings | None = None,
) -> ServerSetup:
    """Create the schema, a fresh sealed server setup and the stored settings; refuses if a
    setup exists."""
    store.create_schema()
    if store.get_meta(META_SETUP) is not None:
        raise VaultConfigError("this vault database is already initialised")
    setup = ServerSetup.generate(rng)
    if not store.put_meta(META_SETUP, sealer.seal(setup.to_bytes())):
        raise VaultConfigError("this vault database is already initialised")
    store.put_meta(META_PUBLIC_KEY, setup.public_key)
    store.put_meta(META_SETTINGS, settings_doc.encode(settings or VaultSettings()))
    return setup


def load_settings(store: SqlStore, node: str = "") -> VaultSettings:
    """The deployment's stored settings (defaults for a database made before they existed)."""
    return settings_doc.decode(store.get_meta(META_SETTINGS), node)


def save_settings(store: SqlStore, new: VaultSettings, ctx: AuditContext) -> list[str]:
    """Store changed settings with an audit row naming the changed fields; returns them."""
    old = load_settings(store).stored()
    doc = new.stored()
    changed = sorted(k for k in doc if doc[k] != old.get(k))
    if changed:
        detail = ", ".join(f"{k}={json.dumps(doc[k])}" for k in changed)
        store.set_meta_audited(
            META_SETTINGS, settings_doc.encode(new), time.time(), ctx, "settings", detail
        )
    return changed


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


def load_core(
    store: SqlStore, sealer: Sealer, settings: VaultSettings | None = None, *, node: str = ""
) -> VaultCore:
    """A ready :class:`VaultCore` for ``store`` (schema created if missing).

    Without ``settings`` the node runs on the stored ones and follows later changes
    (:meth:`VaultCore.refresh_settings`); explicit ``settings`` are for tests and the embedded
    vault in process.
    """
    store.create_schema()
    setup = load_setup(store, sealer)
    if settings is not None:
        return VaultCore(setup, store, settings, clock=time.time)
    core = VaultCore(setup, store, load_settings(store, node), clock=time.time)
    core.follow_stored_settings = True
    return core


def rotate_seal(store: SqlStore, old: Sealer, new: Sealer, ctx: AuditContext) -> ServerSetup:
    """Re-seal the server setup under ``new`` (the setup itself, and so every record, stays).

    The new blob is opened again with ``new`` before it replaces the old one, and the
    replacement is a compare-and-swap on the old blob in one audited transaction, so two
    rotations at once cannot both win and a failed rotation leaves the old seal in place.
    """
    setup = load_setup(store, old)
    sealed = new.seal(setup.to_bytes())
    if new.unseal(sealed) != setup.to_bytes():
        raise SealError("the new seal does not give back the server setup; nothing changed")
    current = store.get_meta(META_SETUP)
    assert current is not None
    detail = f"from={type(old).__name__} to={type(new).__name__}"
    if not store.swap_meta_audited(META_SETUP, current, sealed, time.time(), ctx, detail):
        raise VaultConfigError("the sealed setup changed during the rotation; nothing changed")
    return setup
