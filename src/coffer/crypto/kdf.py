"""The key hierarchy: the master key M and every subkey derived from it.

Rules:

- M is 32 bytes from the OS CSPRNG (:func:`new_master_key`); nothing else ever becomes a master key.
- Every subkey comes from HKDF-SHA256 (RFC 5869, pyca/cryptography) with a registered, versioned
  :class:`Label` as ``info``. A label is used for one purpose only; a new purpose gets a new label,
  a changed derivation gets a new version (``coffer/v2/...``). Labels are ASCII without NUL.
- Repository subkeys (:class:`KeyRing`) use the repository ID as the HKDF salt, so two repositories
  never share a subkey even if they shared M.
- A caller-supplied ``context`` (e.g. the repository ID for slot KEKs) is appended to the label
  after a NUL byte: ``info = label || 0x00 || context``. Because labels contain no NUL, the
  encoding is unambiguous; without a context ``info`` is the bare label.
- Secret-holding objects have a redacted ``repr``.

Theory of operation: HKDF-Extract turns the (already uniform) input key and the salt into a
pseudorandom key; HKDF-Expand with distinct ``info`` strings yields independent subkeys. A
compromise of one subkey (e.g. the files-cache key kept on the device) reveals nothing about M or
its siblings.
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass, fields

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MASTER_KEY_LEN = 32
MIN_INPUT_KEY_LEN = 32
"""Input keys shorter than this are refused: every Coffer secret is 256 bits."""


class Label(enum.StrEnum):
    """Registered HKDF ``info`` labels. Never reuse one for another purpose."""

    DATA = "coffer/v1/data"
    INDEX = "coffer/v1/index"
    SNAPSHOT = "coffer/v1/snapshot"
    CHUNK_ID = "coffer/v1/chunk-id"
    CONFIG = "coffer/v1/config"
    LOCK = "coffer/v1/lock"
    PACK_HEADER = "coffer/v1/pack-header"
    CHUNKER = "coffer/v1/chunker"
    FILES_CACHE = "coffer/v1/files-cache"
    SLOT_RECOVERY = "coffer/v1/slot-kek/recovery"
    SLOT_VAULT = "coffer/v1/slot-kek/vault"
    SLOT_PASSKEY = "coffer/v1/slot-kek/passkey"
    WITNESS_ID = "coffer/v1/witness/id"
    WITNESS_SIGN = "coffer/v1/witness/sign"
    WITNESS_DIGEST = "coffer/v1/witness/digest"


def new_master_key() -> bytes:
    """Return a fresh 32-byte master key from the OS CSPRNG."""
    return secrets.token_bytes(MASTER_KEY_LEN)


def hkdf_info(label: Label, context: bytes = b"") -> bytes:
    """The HKDF ``info`` for ``label`` and an optional ``context`` (see the module rules)."""
    if not isinstance(label, Label):
        raise TypeError("label must be a coffer.crypto.kdf.Label")
    info = label.value.encode("ascii")
    return info + b"\x00" + bytes(context) if context else info


def derive_key(
    master: bytes, label: Label, *, salt: bytes = b"", length: int = 32, context: bytes = b""
) -> bytes:
    """HKDF-SHA256(``master``, ``salt``, info = :func:`hkdf_info` (``label``, ``context``))."""
    if not isinstance(master, bytes) or len(master) < MIN_INPUT_KEY_LEN:
        raise ValueError(f"input key must be at least {MIN_INPUT_KEY_LEN} bytes")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=hkdf_info(label, context))
    return hkdf.derive(master)


@dataclass(frozen=True, repr=False, eq=False)
class KeyRing:
    """All subkeys of one repository, derived once from M with the repository ID as salt."""

    data: bytes
    index: bytes
    snapshot: bytes
    chunk_id: bytes
    config: bytes
    lock: bytes
    pack_header: bytes
    chunker: bytes
    files_cache: bytes

    @classmethod
    def derive(cls, master: bytes, repo_id: bytes) -> KeyRing:
        """Derive every subkey of the repository ``repo_id`` from the master key ``master``."""
        if not isinstance(master, bytes) or len(master) != MASTER_KEY_LEN:
            raise ValueError(f"the master key must be {MASTER_KEY_LEN} bytes")
        if not isinstance(repo_id, bytes) or not repo_id:
            raise ValueError("the repository ID must be non-empty bytes")
        keys = {f.name: derive_key(master, _RING_LABELS[f.name], salt=repo_id) for f in fields(cls)}
        return cls(**keys)

    def __repr__(self) -> str:
        return "KeyRing(<redacted>)"

    __str__ = __repr__


_RING_LABELS: dict[str, Label] = {
    "data": Label.DATA,
    "index": Label.INDEX,
    "snapshot": Label.SNAPSHOT,
    "chunk_id": Label.CHUNK_ID,
    "config": Label.CONFIG,
    "lock": Label.LOCK,
    "pack_header": Label.PACK_HEADER,
    "chunker": Label.CHUNKER,
    "files_cache": Label.FILES_CACHE,
}
