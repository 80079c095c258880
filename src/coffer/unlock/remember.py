"""The remembered-secret store (``--remember``): the key that opened a repository, kept only
when the user asks.

Rules:

- Nothing is kept by default. With ``--remember`` the CLI stores, per repository ID, the slot
  secret that opened the repository (the recovery key R or the vault key V) and its slot kind —
  not the master key M: removing that slot (``key remove``, ``password remove``) therefore also
  revokes the remembered copy, and a remembered V never needs the vault again.
- Where: the OS keyring through ``keyring`` (service :data:`SERVICE`, user = repository ID in
  hex) when an OS keyring is available (a backend keyring itself recommends: priority >= 1, so
  not the plaintext or null stand-ins); otherwise a file ``remembered/<repository ID>`` in the
  config folder (:func:`coffer.paths.config_dir`), folder 0700, file 0600, written
  atomically. ``COFFER_REMEMBER_BACKEND=file`` forces the file.
- :func:`recall` looks in both places; :func:`forget` removes both. A remembered value that does
  not parse is ignored (and reported as not remembered), never an error.
- Secrets are never printed; :func:`keep` returns only a description of *where* it stored.

Theory of operation: the stored value is ``"<kind>:<base64url secret>"``, e.g. ``vault:…``.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path

import keyring
import keyring.errors
from keyring.backends import fail

from coffer.crypto.slots import SECRET_LEN, SlotKind
from coffer.paths import config_dir, write_private

SERVICE = "coffer"
ENV_BACKEND = "COFFER_REMEMBER_BACKEND"
_RECOMMENDED_PRIORITY = 1  # keyring's own bar: OS keyrings are >= 1, plaintext stand-ins below


def _folder() -> Path:
    return config_dir() / "remembered"


def _file(repo_id: bytes) -> Path:
    return _folder() / repo_id.hex()


def _keyring_usable() -> bool:
    if os.environ.get(ENV_BACKEND) == "file":
        return False
    backend = keyring.get_keyring()
    priority = getattr(backend, "priority", 0)
    return not isinstance(backend, fail.Keyring) and priority >= _RECOMMENDED_PRIORITY


def _encode(kind: SlotKind, secret: bytes) -> str:
    return f"{kind.value}:{base64.urlsafe_b64encode(secret).decode('ascii').rstrip('=')}"


def _decode(value: str) -> tuple[SlotKind, bytes] | None:
    kind_text, _, b64 = value.strip().partition(":")
    try:
        kind = SlotKind(kind_text)
        secret = base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4))
    except (ValueError, binascii.Error):
        return None
    return (kind, secret) if len(secret) == SECRET_LEN else None


def keep(repo_id: bytes, kind: SlotKind, secret: bytes) -> str:
    """Remember ``secret`` for the repository; return where it went (for a notice)."""
    value = _encode(kind, secret)
    if _keyring_usable():
        try:
            keyring.set_password(SERVICE, repo_id.hex(), value)
            return f"the OS keyring ({type(keyring.get_keyring()).__name__})"
        except keyring.errors.KeyringError:
            pass
    path = _file(repo_id)
    write_private(path, (value + "\n").encode("ascii"))
    return f"{path} (mode 0600)"


def recall(repo_id: bytes) -> tuple[SlotKind, bytes] | None:
    """The remembered ``(kind, secret)`` for the repository, or None."""
    if _keyring_usable():
        try:
            value = keyring.get_password(SERVICE, repo_id.hex())
        except keyring.errors.KeyringError:
            value = None
        if value and (found := _decode(value)) is not None:
            return found
    try:
        return _decode(_file(repo_id).read_text("ascii"))
    except (OSError, UnicodeDecodeError):
        return None


def forget(repo_id: bytes) -> bool:
    """Remove every remembered copy for the repository; True if there was one."""
    removed = False
    if _keyring_usable():
        try:
            keyring.delete_password(SERVICE, repo_id.hex())
            removed = True
        except keyring.errors.KeyringError:
            pass
    try:
        _file(repo_id).unlink()
        removed = True
    except FileNotFoundError:
        pass
    return removed
