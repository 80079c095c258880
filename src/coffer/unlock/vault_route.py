"""The password route: which vault account a repository's password slots lead to, and the
vault flows behind it (recover V, escrow a new V, check a vault before any password is used).

Rules:

- A ``vault`` key slot's metadata names its vault (``vault_url``), the account (``account``) and
  the pinned vault key (``vault_fingerprint``). That metadata is only a hint until the slot
  opens, so the caller's settings (:mod:`coffer.unlock.settings`) override it field by field,
  and the vault's key is always checked — against the given pin or the slot's fingerprint, and
  against the trust-on-first-use file ``known-vaults.json`` — before any password is used.
- One password is tried at one vault account only: if the slots point at several accounts the
  caller picks one (``--account``); each try costs a guess at each vault.
- :func:`vault_errors` is the one place where the vault client's errors become the messages
  users see (:mod:`coffer.unlock.errors`).
- In-process vaults (tests) are reached through :func:`register_transport`; nothing else here
  knows about tests.

Theory of operation: ``init --password`` draws V (32 random bytes), escrows it with
:meth:`VaultClient.register` (OPAQUE registration; V sealed under the export key) and writes a
slot sealing M under a KEK derived from V. Unlocking runs :meth:`VaultClient.recover` (KE1 → KE2,
KE3 → V) and :meth:`Repository.open` with ``SlotKind.VAULT``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

import httpx

from coffer.crypto.slots import SECRET_LEN, SlotInfo, SlotKind
from coffer.errors import UsageError, VaultError, WrongKey
from coffer.paths import known_vaults_path
from coffer.unlock.errors import (
    AccountTaken,
    PasswordLocked,
    PasswordRejected,
    VaultNotConfigured,
    VaultUnreachable,
    recovery_hint,
)
from coffer.unlock.settings import VaultTarget
from coffer.vault._crypto import fingerprint
from coffer.vault.client import VaultClient
from coffer.vault.errors import (
    AccountExists,
    VaultKeyMismatch,
    VaultLocked,
    VaultUnavailable,
    WrongPassword,
)

META_URL = "vault_url"
META_ACCOUNT = "account"
META_FINGERPRINT = "vault_fingerprint"
_FINGERPRINT_RE = re.compile(r"^[0-9a-f]{4}(:[0-9a-f]{4}){7}$")
_TRANSPORTS: dict[str, httpx.BaseTransport] = {}


def register_transport(url: str, transport: httpx.BaseTransport | None) -> None:
    """Route requests for ``url`` through ``transport`` (e.g. an in-process app's transport,
    which each client closes when done, so it must be reusable); None removes it."""
    if transport is None:
        _TRANSPORTS.pop(url.rstrip("/"), None)
    else:
        _TRANSPORTS[url.rstrip("/")] = transport


@dataclass(frozen=True)
class VaultRoute:
    """One vault account that key slots point at."""

    url: str
    account: str
    key: str | None
    slot_ids: tuple[str, ...]

    def describe(self) -> str:
        return f"account {self.account!r} at {self.url}"


def _parse_key(key: str) -> tuple[bytes | None, str | None]:
    """``(public key, fingerprint)`` from a pin given as either form."""
    text = key.strip().lower() if ":" in key else key.strip()
    if _FINGERPRINT_RE.match(text):
        return None, text
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, binascii.Error):
        raw = b""
    if len(raw) != 32:
        raise UsageError(
            "a vault key must be its fingerprint (8 groups of 4 hex digits) "
            "or its base64url public key"
        )
    return raw, None


def vault_client(url: str, key: str | None) -> VaultClient:
    """A client for ``url`` whose vault key is checked against ``key`` and known-vaults.json."""
    if not url.lower().startswith(("http://", "https://")):
        raise UsageError(f"a vault address must start with http:// or https://, not {url!r}")
    public, expected = _parse_key(key) if key else (None, None)
    client = VaultClient(
        url,
        pinned_key=public,
        known_vaults_path=None if public else known_vaults_path(),
        transport=_TRANSPORTS.get(url.rstrip("/")),
        expected_fingerprint=expected,  # checked before known-vaults.json records anything
    )
    if expected is not None:
        try:
            client.info()
        except VaultKeyMismatch:
            client.close()
            raise
    return client


def routes_for(slots: list[SlotInfo], target: VaultTarget) -> list[VaultRoute]:
    """The distinct vault accounts the repository's vault slots lead to, after overrides."""
    groups: dict[tuple[str, str], list[SlotInfo]] = {}
    for slot in slots:
        if slot.kind != SlotKind.VAULT:
            continue
        eff = target.over(slot_target(slot))
        if eff.url and eff.account:
            groups.setdefault((eff.url.rstrip("/"), eff.account), []).append(slot)
    routes = []
    for (url, account), members in groups.items():
        key = target.key or members[0].meta.get(META_FINGERPRINT)
        routes.append(VaultRoute(url, account, key, tuple(s.slot_id for s in members)))
    return routes


def slot_target(slot: SlotInfo) -> VaultTarget:
    """What a vault slot's own (unauthenticated) metadata says about its vault."""
    meta = slot.meta
    return VaultTarget(meta.get(META_URL), meta.get(META_ACCOUNT), meta.get(META_FINGERPRINT))


def choose_route(slots: list[SlotInfo], target: VaultTarget) -> VaultRoute:
    """The one vault account to ask; a usage error if there is none or several."""
    routes = routes_for(slots, target)
    if not routes:
        if not any(s.kind == SlotKind.VAULT for s in slots):
            raise WrongKey("this repository has no password slot; use the recovery key")
        raise VaultNotConfigured(
            "the password slot does not name its vault: give --vault and --account"
        )
    if len(routes) > 1:
        names = ", ".join(r.describe() for r in routes)
        raise VaultNotConfigured(f"several password slots ({names}): choose one with --account")
    return routes[0]


@contextlib.contextmanager
def vault_errors(route_text: str, has_recovery: bool) -> Iterator[None]:
    """Turn the vault client's errors into the messages users see."""
    try:
        yield
    except WrongPassword as exc:
        raise PasswordRejected(exc.attempts_left, has_recovery) from None
    except VaultLocked:
        raise PasswordLocked(
            f"the key vault has locked {route_text} after too many wrong passwords: the "
            "password can no longer open this backup" + recovery_hint(has_recovery)
        ) from None
    except VaultUnavailable as exc:
        raise VaultUnreachable(
            f"cannot reach the key vault ({exc}); the repository was not changed"
            + recovery_hint(has_recovery)
        ) from None


def recover_secret(route: VaultRoute, password: bytes, has_recovery: bool) -> bytes:
    """V for ``route``: one OPAQUE login (one guess at the vault)."""
    with (
        vault_errors(route.describe(), has_recovery),
        vault_client(route.url, route.key) as client,
    ):
        secret = client.recover(route.account, password)
    if len(secret) != SECRET_LEN:
        raise VaultError("the vault returned a secret of the wrong size")
    return secret


def require_target(target: VaultTarget) -> tuple[str, str]:
    if not target.url or not target.account:
        raise VaultNotConfigured(
            "a password needs a key vault and an account: give --vault and --account, set "
            "COFFER_VAULT and COFFER_ACCOUNT, or put them in the config file"
        )
    return target.url.rstrip("/"), target.account


def escrow_new_secret(target: VaultTarget, password: bytes) -> tuple[bytes, dict[str, str]]:
    """Draw V, escrow it behind ``password`` (OPAQUE registration); return V and slot meta."""
    url, account = require_target(target)
    secret = os.urandom(SECRET_LEN)
    with vault_errors(f"account {account!r} at {url}", False), vault_client(url, target.key) as c:
        info = c.info()
        try:
            c.register(account, password, secret)
        except (AccountExists, VaultLocked):
            raise AccountTaken(
                f"the key vault at {url} already has an account {account!r} (in use by another "
                "repository, or locked): choose another --account; to change the password of "
                "the repository that uses it, run `coffer password change` there"
            ) from None
    meta = {META_URL: url, META_ACCOUNT: account, META_FINGERPRINT: info.fingerprint}
    return secret, meta


def check_vault(target: VaultTarget) -> str:
    """Reach the vault and check its key; return its fingerprint (before any repository write)."""
    url, account = require_target(target)
    with vault_errors(f"account {account!r} at {url}", False), vault_client(url, target.key) as c:
        return fingerprint(c.info().public_key)
