"""The settings that define a vault deployment's security, stored once in its database.

Rules:

- Everything that changes what a client or an attacker gets — guess limit, attempt and grant
  lifetimes, the OPAQUE context, the KSF advised and the KSFs accepted, rate limits, ghost and
  audit retention — is a :class:`VaultSettings` stored as one JSON document (``meta`` row
  :data:`META_SETTINGS`, with a version number) in the vault database. Every node behind that
  database reads the same document at start-up and again every few seconds; no command-line
  flag of ``vault serve`` overrides it. It changes only through ``coffer vault settings set``,
  which writes an audit row (event ``settings``) in the same transaction.
- A database made before settings were stored reads as the defaults (``max_attempts`` 10).
- The KSF a client registers with must be one it can reproduce exactly: one of
  :data:`KSF_PROFILES` that the deployment accepts (``allowed_ksf``), or the advised one.
  m = 2^21 KiB is never offered: ``@serenity-kit/opaque`` (WASM, 32-bit) tops out at 2^21 − 1.
- The context defaults to empty, as stock opaque-ke bindings (``opaque-snake``,
  ``@serenity-kit/opaque``) require. The deployment is bound instead by its AKE public key,
  which every OPAQUE client puts into the transcript (the default identities are the public
  keys) and which clients pin. A record does not depend on the context, so records made under
  the former fixed context ``coffer-vault/v1`` keep working under any context.
- ``node`` is the one node-local field (a name for logs and the audit trail); it is not stored.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from typing import Any

from coffer.opaque import Argon2idKSF
from coffer.vault import wire
from coffer.vault.errors import VaultConfigError

META_SETTINGS = "settings"
SETTINGS_VERSION = 1
LEGACY_CONTEXT = b"coffer-vault/v1"

KSF_PROFILES: dict[str, Argon2idKSF] = {
    # @serenity-kit/opaque's default preset ("memory-constrained"); opaque-ke computes it with
    # Argon2::new(Argon2id, V0x13, Params::new(65536, 3, 4, Some(64)))
    "memory-constrained": Argon2idKSF(memory_kib=65536, iterations=3, parallelism=4),
    # @serenity-kit/opaque's "rfc9106-recommended" preset: 2^21 - 1 KiB (its wasm32 limit)
    "rfc9106-recommended": Argon2idKSF(memory_kib=2**21 - 1, iterations=1, parallelism=4),
    # the argon2 crate's Params::default(): what opaque-ke's Argon2 and opaque-snake compute
    "opaque-ke-default": Argon2idKSF(memory_kib=19456, iterations=2, parallelism=1),
    # one lane: libsodium's crypto_pwhash (p fixed to 1); Coffer's advice until 2026-12
    "mobile": Argon2idKSF(memory_kib=65536, iterations=3, parallelism=1),
}
DEFAULT_PROFILE = "memory-constrained"
_CONTEXT_RE = re.compile(r"^[\x20-\x7e]{0,200}$")


def _profile(name: str) -> dict[str, Any]:
    return wire.ksf_to_json(KSF_PROFILES[name])


@dataclass(frozen=True)
class VaultSettings:
    """The security policy of one vault deployment (module rules)."""

    attempt_ttl: float = 120.0
    grant_ttl: float = 120.0
    default_ksf: dict[str, Any] = field(default_factory=lambda: _profile(DEFAULT_PROFILE))
    allow_identity_ksf: bool = False
    node: str = ""
    max_attempts: int = 10
    context: bytes = b""
    allowed_ksf: tuple[str, ...] = tuple(KSF_PROFILES)
    rate_per_address: float = 20.0
    burst_per_address: int = 60
    rate_per_account: float = 1.0
    burst_per_account: int = 20
    ghost_ttl_days: float = 30.0
    audit_retention_days: float = 400.0

    def __post_init__(self) -> None:
        _check(self)

    def accepts(self, ksf_json: dict[str, Any]) -> bool:
        """True if a registration may use this KSF descriptor (canonical form compared)."""
        if ksf_json == {"alg": "identity"}:
            return self.allow_identity_ksf
        allowed = [_profile(n) for n in self.allowed_ksf if n in KSF_PROFILES]
        return ksf_json in [*allowed, self.default_ksf]

    def accepted_ksf(self) -> list[dict[str, Any]]:
        """What ``/v1/info`` advertises: the advised KSF first, then the other accepted ones."""
        out = [self.default_ksf]
        for name in self.allowed_ksf:
            if name in KSF_PROFILES and _profile(name) not in out:
                out.append(_profile(name))
        return out

    def stored(self) -> dict[str, Any]:
        """The JSON document kept in the database (without the node-local ``node``)."""
        doc = dataclasses.asdict(self)
        del doc["node"]
        doc["context"] = self.context.decode("ascii")
        doc["allowed_ksf"] = list(self.allowed_ksf)
        return {"version": SETTINGS_VERSION, **doc}

    @classmethod
    def from_stored(cls, doc: object, node: str = "") -> VaultSettings:
        """Parse a stored document; :class:`VaultConfigError` if it is not one we wrote."""
        if not isinstance(doc, dict) or doc.get("version") != SETTINGS_VERSION:
            raise VaultConfigError("the vault's stored settings have an unknown version")
        names = {f.name for f in dataclasses.fields(cls)} - {"node"}
        values = {k: v for k, v in doc.items() if k in names}
        if set(values) != names:
            raise VaultConfigError("the vault's stored settings are incomplete")
        try:
            values["context"] = str(values["context"]).encode("ascii")
            values["allowed_ksf"] = tuple(values["allowed_ksf"])
            return cls(**values, node=node)
        except (TypeError, ValueError, UnicodeError) as exc:
            raise VaultConfigError(f"the vault's stored settings are invalid: {exc}") from None

    def replace(self, **changes: Any) -> VaultSettings:
        return dataclasses.replace(self, **changes)


def _check(s: VaultSettings) -> None:
    def need(ok: bool, what: str) -> None:
        if not ok:
            raise VaultConfigError(f"invalid vault setting: {what}")

    need(isinstance(s.max_attempts, int) and 1 <= s.max_attempts <= 1000, "max_attempts 1..1000")
    need(5.0 <= s.attempt_ttl <= 3600.0, "attempt_ttl 5..3600 s")
    need(5.0 <= s.grant_ttl <= 3600.0, "grant_ttl 5..3600 s")
    need(isinstance(s.context, bytes), "context must be bytes")
    need(bool(_CONTEXT_RE.match(s.context.decode("latin-1"))), "context: printable ASCII")
    need(all(n in KSF_PROFILES for n in s.allowed_ksf), f"allowed_ksf from {list(KSF_PROFILES)}")
    try:
        canonical = wire.ksf_to_json(wire.ksf_from_json(s.default_ksf))
    except Exception:
        canonical = None
    need(canonical == s.default_ksf, "default_ksf must be a canonical KSF descriptor")
    need(s.rate_per_address >= 0 and s.rate_per_account >= 0, "rates must be >= 0")
    need(s.burst_per_address >= 1 and s.burst_per_account >= 1, "bursts must be >= 1")
    need(s.ghost_ttl_days > 0 and s.audit_retention_days >= 0, "retention must be positive")


def encode(settings: VaultSettings) -> bytes:
    return json.dumps(settings.stored(), sort_keys=True, separators=(",", ":")).encode()


def decode(blob: bytes | None, node: str = "") -> VaultSettings:
    """The stored settings, or the defaults for a database made before they were stored."""
    if blob is None:
        return VaultSettings(node=node)
    try:
        doc = json.loads(blob)
    except ValueError:
        raise VaultConfigError("the vault's stored settings are not JSON") from None
    return VaultSettings.from_stored(doc, node)
