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
- What is certainly wrong is refused before a guess is spent (:func:`choose_route`): an account
  other than the one(s) the slots record (V is escrowed under its account name, so no other
  account can release it), and a vault key other than the recorded fingerprint. A different
  vault *address* is allowed (a vault may move) — the slot's fingerprint is then the pin, so a
  different vault there is refused by its key, also before a guess.
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
    RouteMismatch,
    VaultNotConfigured,
    VaultUnreachable,
    recovery_hint,
)
from coffer.unlock.settings import VaultTarget
from coffer.vault._crypto import fingerprint
from coffer.vault.client import VaultClient, VaultInfo
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


def has_slot_for(slots: list[SlotInfo], url: str, account: str) -> bool:
    """True when a vault slot records exactly this vault address and account."""
    return any(
        s.kind == SlotKind.VAULT
        and (s.meta.get(META_URL, "").rstrip("/"), s.meta.get(META_ACCOUNT)) == (url, account)
        for s in slots
    )


def choose_route(slots: list[SlotInfo], target: VaultTarget) -> VaultRoute:
    """The one vault account to ask. Refused before any guess: no password slot, no vault
    named, several accounts to choose from, or an account or vault key that differs from the
    one the slot was made with (a password sent there could not open it)."""
    vault_slots = [s for s in slots if s.kind == SlotKind.VAULT]
    if not vault_slots:
        raise WrongKey("this repository has no password slot; use the recovery key")
    chosen = _select_account(vault_slots, target.account)
    routes = routes_for(chosen, target)
    if not routes:
        raise VaultNotConfigured(
            "the password slot does not name its vault: give --vault and --account"
        )
    if len(routes) > 1:
        names = ", ".join(r.describe() for r in routes)
        raise VaultNotConfigured(f"several password slots ({names}): choose one with --account")
    _check_pin(routes[0], chosen, target.key)
    return routes[0]


def _select_account(vault_slots: list[SlotInfo], account: str | None) -> list[SlotInfo]:
    """The slots made for ``account`` (all when none is given); a mismatch is refused."""
    if not account:
        return vault_slots
    named = [s for s in vault_slots if s.meta.get(META_ACCOUNT) == account]
    unnamed = [s for s in vault_slots if not s.meta.get(META_ACCOUNT)]
    if named or unnamed:
        return named or unnamed
    recorded = sorted({repr(s.meta.get(META_ACCOUNT)) for s in vault_slots})
    raise RouteMismatch(
        f"this repository's password slot was made for account {' or '.join(recorded)}, not "
        f"{account!r} (from --account, COFFER_ACCOUNT or the config file): a password sent "
        "there could not open it, so none was sent; drop or correct that setting"
    )


def _check_pin(route: VaultRoute, chosen: list[SlotInfo], given_key: str | None) -> None:
    """Refuse a given vault key that differs from the fingerprint the slot recorded."""
    if not given_key:
        return
    public, given = _parse_key(given_key)
    given = given or fingerprint(public or b"")
    recorded = {s.meta.get(META_FINGERPRINT) for s in chosen} - {None, ""}
    if recorded and given not in recorded:
        raise RouteMismatch(
            f"the vault key given ({given}, from --vault-key, COFFER_VAULT_KEY or the config "
            f"file) is not the one this repository's password slot was made with "
            f"({', '.join(sorted(str(r) for r in recorded))}): that vault could not open it, "
            "so no password was sent"
        )


def check_reachable(route: VaultRoute, has_recovery: bool) -> None:
    """Reach the route's vault and check its key — before anyone is asked for a password."""
    with vault_errors(route.describe(), has_recovery), vault_client(route.url, route.key) as c:
        c.info()


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
            raise _taken(url, account) from None
    meta = {META_URL: url, META_ACCOUNT: account, META_FINGERPRINT: info.fingerprint}
    return secret, meta


def _taken(url: str, account: str) -> AccountTaken:
    return AccountTaken(
        f"the key vault at {url} already has an account {account!r} (in use by another "
        "repository, or locked): choose another --account; to change the password of "
        "the repository that uses it, run `coffer password change` there"
    )


def check_vault(target: VaultTarget, account_free: bool = False) -> VaultInfo:
    """Reach the vault and check its key (and, with ``account_free``, that the account can be
    registered); return what the vault says about itself. Run before a password is asked for
    and before any repository write."""
    url, account = require_target(target)
    with vault_errors(f"account {account!r} at {url}", False), vault_client(url, target.key) as c:
        info = c.info()
        if account_free and not c.account_available(account):
            raise _taken(url, account)
        return info
