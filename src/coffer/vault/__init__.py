"""The Coffer key vault: guess-limited escrow of backup keys over OPAQUE (RFC 9807).

Rules: the vault releases an account's escrowed secret V only after an OPAQUE login, spends one
attempt per KE2 (durably, before the KE2 is sent), restores the allowance on a verified KE3, and
destroys V and the record when the allowance is used up. The wire API is specified in
``docs/vault-api.md``; running it in ``docs/vault-operations.md``. Modules: :mod:`.protocol`
(sans-I/O handlers), :mod:`.settings` (the security settings stored in the database),
:mod:`.app` (HTTP), :mod:`.clientaddr` (trusted proxies), :mod:`.netguard` (connection caps and
read deadlines), :mod:`.node` (TLS, workers, uvicorn), :mod:`.metrics` (Prometheus),
:mod:`.housekeeping` (a node's background duties), :mod:`.store` / :mod:`.store_sqlite` /
:mod:`.store_postgres` / :mod:`.store_admin` (databases, operator statements, shared rate
limits), :mod:`.seal` (server secrets at rest), :mod:`.client` (what the CLI uses),
:mod:`.embedded` (a loopback node in process), :mod:`.server` (assembling a node),
:mod:`.ratelimit` (in-process buckets), :mod:`.audit`, :mod:`.wire`.

Exception tree (details in :mod:`coffer.vault.errors`)::

    coffer.errors.WrongKey (11)
    └── WrongPassword(attempts_left)
    coffer.errors.VaultError (15)
    ├── VaultUnavailable
    ├── VaultKeyMismatch
    ├── VaultProtocolError
    ├── VaultConfigError
    │   └── SealError
    ├── StoreError
    └── RequestRefused(status, code)
        ├── BadRequest, LoginFailed, AccountExists, Conflict, AttemptExpired, TooLarge,
        │   UnsupportedMediaType
        ├── VaultLocked
        └── RateLimited(retry_after)
"""

from __future__ import annotations

from coffer.vault.client import VaultClient, VaultInfo
from coffer.vault.errors import (
    AccountExists,
    RateLimited,
    SealError,
    VaultKeyMismatch,
    VaultLocked,
    VaultProtocolError,
    VaultUnavailable,
    WrongPassword,
)
from coffer.vault.known_vaults import KnownVaults

__all__ = [
    "AccountExists",
    "KnownVaults",
    "RateLimited",
    "SealError",
    "VaultClient",
    "VaultInfo",
    "VaultKeyMismatch",
    "VaultLocked",
    "VaultProtocolError",
    "VaultUnavailable",
    "WrongPassword",
]
