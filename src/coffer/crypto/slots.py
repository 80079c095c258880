"""Key slots (``keys/<id>``): the master key M sealed under a key-encryption key (KEK).

Rules:

- A slot's secret is always a random 256-bit key (recovery key R, vault key V, passkey PRF
  output), never a password: no slot can be opened by offline password guessing.
- ``KEK = HKDF-SHA256(secret, salt = slot salt, info = Label.SLOT_<KIND> || 0x00 || repo_id)``.
- Byte layout, version 1 (all integers big-endian)::

      magic      4  b"CFKS"
      version    1  0x01
      kind_len   1  n (1..255)
      kind       n  ASCII, e.g. b"recovery" / b"vault" / b"passkey"
      salt      32  random
      time_len   1  t (1..255)
      created    t  ASCII ISO-8601 UTC time, e.g. b"2026-11-26T17:19:31+00:00"
      meta_len   4  m (0..65536)
      meta       m  UTF-8 JSON object of strings, keys sorted, no spaces
      sealed    73  aead.seal(KEK, M, ad = header || repo_id)   (41 + 32 bytes)

  ``header`` is every byte before ``sealed``; it is self-delimiting, so ``header || repo_id`` is
  unambiguous. The slot ID is ``sha256(whole object)`` in lower-case hex.
- :func:`read_slot_info` parses the header without a key. Its metadata is authenticated only once
  :func:`open_slot` succeeds; before that it is a hint (e.g. which vault to ask).
- Errors: a malformed object or an ID that is not its hash → :class:`IntegrityError`; a newer
  version or an unknown kind → :class:`UnsupportedSlot` (callers skip such slots); a secret that
  does not open the slot → :class:`WrongKey` (a tampered sealed part looks the same).

Theory of operation: new kinds need a new :class:`SlotKind`, a new ``coffer/v1/slot-kek/<kind>``
label and nothing else; old readers skip them through :class:`UnsupportedSlot`.
"""

from __future__ import annotations

import enum
import hashlib
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime

from coffer.crypto.aead import SEAL_OVERHEAD, _seal_with_nonce, open_sealed, seal
from coffer.crypto.kdf import MASTER_KEY_LEN, Label, derive_key
from coffer.errors import IntegrityError, RepositoryError, WrongKey

MAGIC = b"CFKS"
VERSION = 1
SALT_LEN = 32
SECRET_LEN = 32
MAX_META_LEN = 65536
SEALED_LEN = SEAL_OVERHEAD + MASTER_KEY_LEN


class SlotKind(enum.StrEnum):
    """Kinds of key slot; the value is what the slot stores."""

    RECOVERY = "recovery"
    VAULT = "vault"
    PASSKEY = "passkey"


_KEK_LABELS = {
    SlotKind.RECOVERY: Label.SLOT_RECOVERY,
    SlotKind.VAULT: Label.SLOT_VAULT,
    SlotKind.PASSKEY: Label.SLOT_PASSKEY,
}


class UnsupportedSlot(RepositoryError):
    """The key slot was written by a newer Coffer (unknown version or kind); skip it."""


@dataclass(frozen=True)
class SlotInfo:
    """The public part of a slot: authenticated by :func:`open_slot`, never secret."""

    slot_id: str
    kind: SlotKind
    created: str
    meta: dict[str, str] = field(default_factory=dict)


def _malformed() -> IntegrityError:
    return IntegrityError("key slot is malformed: it is corrupted or was tampered with")


def _check_secret(name: str, value: bytes) -> None:
    if not isinstance(value, bytes) or len(value) != SECRET_LEN:
        raise ValueError(f"the {name} must be {SECRET_LEN} bytes")


def _encode_meta(meta: dict[str, str]) -> bytes:
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        raise ValueError("slot metadata must map strings to strings")
    raw = json.dumps(meta, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    encoded = raw.encode("utf-8")
    if len(encoded) > MAX_META_LEN:
        raise ValueError(f"slot metadata longer than {MAX_META_LEN} bytes")
    return encoded


def _encode_header(kind: SlotKind, salt: bytes, created: str, meta: dict[str, str]) -> bytes:
    kind_b = kind.value.encode("ascii")
    time_b = created.encode("ascii")
    meta_b = _encode_meta(meta)
    return b"".join(
        (
            MAGIC,
            bytes([VERSION, len(kind_b)]),
            kind_b,
            salt,
            bytes([len(time_b)]),
            time_b,
            len(meta_b).to_bytes(4, "big"),
            meta_b,
        )
    )


def make_slot(
    kind: SlotKind,
    secret: bytes,
    master_key: bytes,
    repo_id: bytes,
    meta: dict[str, str] | None = None,
) -> tuple[str, bytes]:
    """Seal ``master_key`` under ``secret``; return ``(slot_id, object bytes)``."""
    created = datetime.now(UTC).isoformat(timespec="seconds")
    return _build_slot(
        kind, secret, master_key, repo_id, meta, secrets.token_bytes(SALT_LEN), created
    )


def _build_slot(
    kind: SlotKind,
    secret: bytes,
    master_key: bytes,
    repo_id: bytes,
    meta: dict[str, str] | None,
    salt: bytes,
    created: str,
    nonce: bytes | None = None,
) -> tuple[str, bytes]:
    """:func:`make_slot` with its random inputs given (a fixed nonce only for test vectors)."""
    _check_secret("slot secret", secret)
    _check_secret("master key", master_key)
    if not isinstance(repo_id, bytes) or not repo_id or len(salt) != SALT_LEN:
        raise ValueError("a slot needs a non-empty repository ID and a 32-byte salt")
    header = _encode_header(SlotKind(kind), salt, created, meta or {})
    kek = derive_key(secret, _KEK_LABELS[SlotKind(kind)], salt=salt, context=repo_id)
    ad = header + repo_id
    sealed = (
        seal(kek, master_key, ad) if nonce is None else _seal_with_nonce(kek, master_key, ad, nonce)
    )
    data = header + sealed
    return hashlib.sha256(data).hexdigest(), data


class _Reader:
    """A cursor over slot bytes; every overrun is a malformed slot."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise _malformed()
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def byte(self) -> int:
        return self.take(1)[0]


def _decode_meta(raw: bytes) -> dict[str, str]:
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _malformed() from None
    if not isinstance(meta, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in meta.items()
    ):
        raise _malformed()
    return meta


def _parse(slot_id: str, data: bytes) -> tuple[SlotInfo, bytes, int]:
    """Return ``(info, salt, header length)`` after checking the ID and the structure."""
    if hashlib.sha256(data).hexdigest() != slot_id:
        raise IntegrityError("key slot does not match its ID: it is corrupted or was swapped")
    r = _Reader(data)
    if r.take(len(MAGIC)) != MAGIC:
        raise _malformed()
    if (version := r.byte()) != VERSION:
        raise UnsupportedSlot(f"key slot {slot_id[:12]} has format version {version}")
    kind_raw = r.take(r.byte())
    try:
        kind = SlotKind(kind_raw.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise UnsupportedSlot(f"key slot {slot_id[:12]} is of an unknown kind") from None
    salt = r.take(SALT_LEN)
    created = r.take(r.byte())
    meta_len = int.from_bytes(r.take(4), "big")
    if meta_len > MAX_META_LEN:
        raise _malformed()
    meta = _decode_meta(r.take(meta_len))
    if len(data) - r.pos != SEALED_LEN or not _valid_time(created):
        raise _malformed()
    return SlotInfo(slot_id, kind, created.decode("ascii"), meta), salt, r.pos


def _valid_time(raw: bytes) -> bool:
    try:
        datetime.fromisoformat(raw.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return False
    return True


def read_slot_info(slot_id: str, data: bytes) -> SlotInfo:
    """Parse the public header without a key; :class:`IntegrityError` if malformed."""
    return _parse(slot_id, bytes(data))[0]


def open_slot(slot_id: str, data: bytes, secret: bytes, repo_id: bytes) -> bytes:
    """Return the master key M sealed in the slot, or raise :class:`WrongKey`."""
    _check_secret("slot secret", secret)
    data = bytes(data)
    info, salt, header_len = _parse(slot_id, data)
    kek = derive_key(secret, _KEK_LABELS[info.kind], salt=salt, context=repo_id)
    try:
        master = open_sealed(kek, data[header_len:], data[:header_len] + repo_id)
    except IntegrityError:
        raise WrongKey(f"the key does not open key slot {slot_id[:12]}") from None
    if len(master) != MASTER_KEY_LEN:
        raise _malformed()
    return master
