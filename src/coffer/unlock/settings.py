"""Where the password route goes: the vault address, account and pinned key, from flags, the
environment, the user's config file and the key slot's own note — in that order.

Rules:

- Precedence, highest first: the caller's values (command-line flags) → environment variable →
  config file → the key slot's own metadata (a hint written at ``init``; see
  :mod:`coffer.unlock.vault_route`). :meth:`VaultTarget.over` fills gaps field by field.
- The config file is found by :func:`coffer.paths.config_path`. A missing file is an empty
  configuration; a malformed one is a :class:`~coffer.errors.UsageError` naming it.
- The file never holds a secret: only the vault address, the account name and the pinned vault
  key (its fingerprint or the base64url public key). Unknown keys are ignored (forward
  compatibility), wrong types are refused.

File format::

    [vault]
    url = "https://vault.example.net"
    account = "alice@example.net"
    key = "1a2b:3c4d:…"          # fingerprint shown by `coffer vault init`, or the public key

Environment: ``COFFER_VAULT``, ``COFFER_ACCOUNT``, ``COFFER_VAULT_KEY``.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from coffer.errors import UsageError
from coffer.paths import config_path

ENV_VAULT = "COFFER_VAULT"
ENV_ACCOUNT = "COFFER_ACCOUNT"
ENV_VAULT_KEY = "COFFER_VAULT_KEY"


@dataclass(frozen=True)
class VaultTarget:
    """Where the password route goes: each field is None when no source gave it."""

    url: str | None = None
    account: str | None = None
    key: str | None = None

    def over(self, lower: VaultTarget) -> VaultTarget:
        """These settings, with gaps filled from ``lower`` (a lower-precedence source)."""
        return VaultTarget(
            self.url or lower.url, self.account or lower.account, self.key or lower.key
        )


def _string(table: dict[str, object], name: str, path: Path) -> str | None:
    value = table.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"{path}: vault.{name} must be a non-empty string")
    return value.strip()


def load_file(path: Path | None = None) -> VaultTarget:
    """The ``[vault]`` table of the config file (empty settings if there is no file)."""
    path = path or config_path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return VaultTarget()
    except OSError as exc:
        raise UsageError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"config file {path} is not valid TOML: {exc}") from None
    table = data.get("vault", {})
    if not isinstance(table, dict):
        raise UsageError(f"{path}: [vault] must be a table")
    return VaultTarget(
        _string(table, "url", path), _string(table, "account", path), _string(table, "key", path)
    )


def from_environment() -> VaultTarget:
    return VaultTarget(
        os.environ.get(ENV_VAULT) or None,
        os.environ.get(ENV_ACCOUNT) or None,
        os.environ.get(ENV_VAULT_KEY) or None,
    )


def resolve(given: VaultTarget) -> VaultTarget:
    """The caller's values over environment over config file (slot metadata comes later)."""
    return given.over(from_environment()).over(load_file())
