"""The password route: open a repository with a password through the key vault.

Rules:

- A ``vault`` key slot's metadata names its vault (``vault_url``), the account (``account``) and
  the pinned vault key (``vault_fingerprint``). That metadata is only a hint until the slot
  opens, so flags, environment and the config file override it field by field
  (:mod:`coffer.cli.config_file`), and the vault's key is always checked — against
  ``--vault-key`` / ``COFFER_VAULT_KEY`` / the config file / the slot's fingerprint, and against
  the trust-on-first-use file ``known-vaults.json`` — before any password is used.
- One password is tried at one vault account only: if the slots point at several accounts the
  user picks one with ``--account`` (each try costs a guess at each vault).
- Errors say what the user can do: a wrong password says how many attempts are left before the
  password can no longer open this backup; a locked account says the password route is gone;
  an unreachable vault says the repository was not changed. Both of the latter mention the
  recovery-key slot when the repository has one.
- Without a recovery key from file or environment, :func:`open_other_routes` tries, in order: a
  password from ``--password-file``/``COFFER_PASSWORD``; a key kept by ``--remember``; a
  password prompt on a terminal (empty answer → the recovery-key prompt when that slot exists).
- In-process vaults (tests) are reached through :func:`register_transport`; nothing else here
  knows about tests.

Exception tree::

    coffer.errors.WrongKey (11)
    └── PasswordRejected(attempts_left)   wrong password; attempts left at the vault
    coffer.errors.VaultError (15)
    ├── PasswordLocked                    the vault has destroyed the escrowed key
    ├── VaultUnreachable                  the vault cannot be reached (repository untouched)
    └── AccountTaken                      registration refused: the account is in use or locked
    coffer.errors.UsageError (2)
    └── VaultNotConfigured                no vault address or account for this operation

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
from pathlib import Path

import click
import httpx

from coffer.backends.base import Backend
from coffer.cli import remember
from coffer.cli.config_file import VaultTarget, known_vaults_path
from coffer.cli.password_input import (
    NoPassword,
    can_prompt,
    normalise_password,
    password_given,
    read_password,
)
from coffer.crypto.slots import SECRET_LEN, SlotInfo, SlotKind
from coffer.engine.repository import Repository, list_slots
from coffer.errors import UsageError, VaultError, WrongKey
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


class PasswordRejected(WrongKey):
    """The vault did not accept the password; ``attempts_left`` guesses remain."""

    def __init__(self, attempts_left: int, has_recovery: bool) -> None:
        self.attempts_left = attempts_left
        if attempts_left > 0:
            plural = "s" if attempts_left != 1 else ""
            text = (
                f"wrong password — {attempts_left} attempt{plural} left before the password "
                "can no longer open this backup"
            )
        else:
            text = (
                "wrong password — that was the last attempt: the key vault has destroyed the "
                "escrowed key, so the password can no longer open this backup"
                + _recovery_hint(has_recovery)
            )
        super().__init__(text)


class PasswordLocked(VaultError):
    """The vault has locked the account: the password route is gone for good."""


class VaultUnreachable(VaultError):
    """The vault cannot be reached; nothing in the repository was changed."""


class AccountTaken(VaultError):
    """The vault already has (or has locked) this account: a new key cannot be escrowed there."""


class VaultNotConfigured(UsageError):
    """An operation needs a vault address and an account that no source gave."""


def _recovery_hint(has_recovery: bool) -> str:
    if has_recovery:
        return (
            "; this repository also has a recovery-key slot: open it with --recovery-key-file "
            "or COFFER_RECOVERY_KEY"
        )
    return "; this repository has no recovery-key slot"


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
        hint = VaultTarget(
            slot.meta.get(META_URL), slot.meta.get(META_ACCOUNT), slot.meta.get(META_FINGERPRINT)
        )
        eff = target.over(hint)
        if eff.url and eff.account:
            groups.setdefault((eff.url.rstrip("/"), eff.account), []).append(slot)
    routes = []
    for (url, account), members in groups.items():
        key = target.key or members[0].meta.get(META_FINGERPRINT)
        routes.append(VaultRoute(url, account, key, tuple(s.slot_id for s in members)))
    return routes


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
            "password can no longer open this backup" + _recovery_hint(has_recovery)
        ) from None
    except VaultUnavailable as exc:
        raise VaultUnreachable(
            f"cannot reach the key vault ({exc}); the repository was not changed"
            + _recovery_hint(has_recovery)
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


def open_with_password(
    backend: Backend, slots: list[SlotInfo], target: VaultTarget, password: bytes
) -> tuple[Repository, bytes]:
    """Open the repository through the vault; return it and V (for ``--remember``)."""
    route = choose_route(slots, target)
    has_recovery = any(s.kind == SlotKind.RECOVERY for s in slots)
    secret = recover_secret(route, password, has_recovery)
    return Repository.open(backend, SlotKind.VAULT, secret), secret


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


def keep_if_asked(asked: bool, repo: Repository, kind: SlotKind, secret: bytes) -> None:
    """``--remember``: store the slot secret and say where (never by default)."""
    if asked:
        where = remember.keep(repo.repo_id, kind, secret)
        click.echo(
            f"coffer: remembered the key of repository {repo.repo_id.hex()[:8]} in {where}",
            err=True,
        )


def _prompt_password(has_recovery: bool) -> bytes | None:
    if not has_recovery:
        return read_password(None)
    text = click.prompt(
        "Password (leave empty to use the recovery key instead)",
        hide_input=True,
        default="",
        show_default=False,
    )
    return normalise_password(text) if text else None


def _try_remembered(backend: Backend, repo_id: bytes) -> Repository | None:
    found = remember.recall(repo_id)
    if found is None:
        return None
    try:
        return Repository.open(backend, found[0], found[1])
    except WrongKey:
        return None


def open_other_routes(
    backend: Backend,
    repo_id: bytes,
    password_file: Path | None,
    target: VaultTarget,
    keep: bool,
) -> Repository | None:
    """Open without a recovery key if possible: a given password, then a remembered key, then
    a password prompt. None means "use the recovery-key route"."""
    slots = list_slots(backend)
    has_vault = any(s.kind == SlotKind.VAULT for s in slots)
    has_recovery = any(s.kind == SlotKind.RECOVERY for s in slots)
    password = read_password(password_file) if password_given(password_file) else None
    if password is None:
        if (repo := _try_remembered(backend, repo_id)) is not None:
            return repo
        if not has_vault:
            return None
        if not can_prompt():
            if has_recovery:
                raise NoPassword(
                    "no key given: use --password-file or COFFER_PASSWORD for the password, or "
                    "--recovery-key-file or COFFER_RECOVERY_KEY for the recovery key"
                )
            raise NoPassword(
                "no password given: use --password-file, COFFER_PASSWORD or run in a terminal"
            )
        password = _prompt_password(has_recovery)
        if password is None:
            return None
    repo, secret = open_with_password(backend, slots, target, password)
    keep_if_asked(keep, repo, SlotKind.VAULT, secret)
    return repo
