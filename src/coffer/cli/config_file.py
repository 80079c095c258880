"""The user's configuration: ``~/.config/coffer/config.toml``, the environment and flags.

Rules:

- Precedence, highest first: command-line flag → environment variable → config file → the key
  slot's own metadata (a hint written at ``init``; see :mod:`coffer.cli.unlock`).
- The config file is found at ``$COFFER_CONFIG`` if set, else
  ``$XDG_CONFIG_HOME/coffer/config.toml``, else ``~/.config/coffer/config.toml``. A missing file
  is an empty configuration; a malformed one is a :class:`~coffer.errors.UsageError` naming it.
- The file never holds a secret: only the vault address, the account name and the pinned vault
  key (its fingerprint or the base64url public key). Unknown keys are ignored (forward
  compatibility), wrong types are refused.
- Other per-user state lives next to the config file: ``known-vaults.json`` (the vault client's
  trust-on-first-use pins) and ``remembered/`` (keys kept by ``--remember``).

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

ENV_CONFIG = "COFFER_CONFIG"
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


def config_dir() -> Path:
    """The folder of the config file and of the per-user state next to it."""
    explicit = os.environ.get(ENV_CONFIG)
    if explicit:
        return Path(explicit).expanduser().parent
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base).expanduser() / "coffer"


def config_path() -> Path:
    explicit = os.environ.get(ENV_CONFIG)
    return Path(explicit).expanduser() if explicit else config_dir() / "config.toml"


def known_vaults_path() -> Path:
    return config_dir() / "known-vaults.json"


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


def resolve(flags: VaultTarget) -> VaultTarget:
    """Flags over environment over config file (slot metadata is applied later, per slot)."""
    return flags.over(from_environment()).over(load_file())
