"""The witness protocol, version 1: keys, rows, signatures and JSON bodies (sans-I/O).

A *witness* keeps, per repository, one row per writer: the newest ``seq`` that writer reported
and a keyed digest of the object it wrote then, signed by the repository's owner. A device with
no memory of its own (a new phone) reads the rows and so learns the newest state the storage
must show. Both the vault (``coffer.vault``) and the client (``witness_client``) use this module;
it does no I/O, reads no clock and draws no randomness.

Rules:

- Every key comes from the master key M with HKDF-SHA256, the repository ID as salt, and its own
  label (``coffer.crypto.kdf.Label.WITNESS_*``): the witness ID (32 bytes, used as the lookup
  key — only the owner can compute it), the Ed25519 signing seed, the digest (HMAC) key.
- ``writer`` is exactly 32 lowercase hex characters, ``seq`` an integer with 1 ≤ seq < 2**53
  (exact in every JSON reader), ``digest`` and ``witness_id`` 32 bytes, ``public_key`` 32 bytes
  (raw Ed25519), ``signature`` 64 bytes. One canonical spelling per value, so two spellings of
  one writer can never be two rows.
- A row's signed message is ``b"coffer-witness-row/v1\\x00" || witness_id || writer (16 raw
  bytes) || seq (u64 big-endian) || digest`` — fixed length (98 bytes), so unambiguous.
- :func:`verify_row` never raises: anything malformed is simply ``False``. Comparisons of
  secret-derived values are constant-time (``hmac.compare_digest``).
- Nothing here logs, and :class:`WitnessKeys` has a redacted ``repr``.
- Bytes on the wire are unpadded base64url, as everywhere in docs/vault-api.md; parsers raise
  ``ValueError`` naming the field (the vault turns it into 400, the client into
  ``WitnessProtocolError``).

Theory of operation: the vault learns a random-looking witness ID, a public key, and per writer
a counter, a digest and the time of each update — nothing about contents, names or sizes. It
cannot forge a row (no signing key) and refuses any row whose ``seq`` is not strictly above the
stored one, so a replayed or older row is refused too. The digest lets a reader tell *which*
object a row names without the vault learning the object ID.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from coffer.crypto.kdf import MASTER_KEY_LEN, Label, derive_key

VERSION = 1
ROW_CONTEXT = b"coffer-witness-row/v1\x00"
WITNESS_ID_LEN = 32
PUBLIC_KEY_LEN = 32
DIGEST_LEN = 32
SIGNATURE_LEN = 64
WRITER_HEX_LEN = 32
MAX_SEQ = 2**53 - 1
"""Largest accepted ``seq`` (the stored counter must stay exact as a JSON number)."""
MAX_WRITERS = 4096
"""Rows per witness the vault keeps at most; the next new writer is refused."""
ROW_MESSAGE_LEN = len(ROW_CONTEXT) + WITNESS_ID_LEN + WRITER_HEX_LEN // 2 + 8 + DIGEST_LEN

_WRITER_RE = re.compile(r"^[0-9a-f]{32}$")
_B64_RE = re.compile(r"^[A-Za-z0-9_\-]*={0,2}$")


# -- keys --------------------------------------------------------------------------------------
class WitnessKeys:
    """The owner's witness keys for one repository, derived from M (see the module rules)."""

    __slots__ = ("_digest_key", "_signing", "public_key", "witness_id")

    def __init__(self, witness_id: bytes, signing_seed: bytes, digest_key: bytes) -> None:
        self.witness_id = witness_id
        self._signing = Ed25519PrivateKey.from_private_bytes(signing_seed)
        self.public_key = self._signing.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self._digest_key = digest_key

    @classmethod
    def derive(cls, master: bytes, repo_id: bytes) -> WitnessKeys:
        """The witness keys of repository ``repo_id`` under master key ``master``."""
        if not isinstance(master, bytes) or len(master) != MASTER_KEY_LEN:
            raise ValueError(f"the master key must be {MASTER_KEY_LEN} bytes")
        if not isinstance(repo_id, bytes) or not repo_id:
            raise ValueError("the repository ID must be non-empty bytes")
        return cls(
            derive_key(master, Label.WITNESS_ID, salt=repo_id),
            derive_key(master, Label.WITNESS_SIGN, salt=repo_id),
            derive_key(master, Label.WITNESS_DIGEST, salt=repo_id),
        )

    def sign(self, message: bytes) -> bytes:
        """Ed25519 signature (64 bytes, deterministic) of ``message``."""
        return self._signing.sign(message)

    def digest(self, object_id_hex: str) -> bytes:
        """HMAC-SHA256 under the digest key of the raw bytes of the hex object ID."""
        raw = _hex_bytes(object_id_hex, "object ID")
        return hmac.new(self._digest_key, raw, hashlib.sha256).digest()

    def owns(self, public_key: object) -> bool:
        """Whether ``public_key`` is this owner's public key (constant time)."""
        return isinstance(public_key, bytes) and hmac.compare_digest(public_key, self.public_key)

    def __repr__(self) -> str:
        return "WitnessKeys(<redacted>)"

    __str__ = __repr__

    def __reduce__(self) -> str | tuple[Any, ...]:
        raise TypeError("WitnessKeys cannot be pickled")


def _hex_bytes(text: object, what: str) -> bytes:
    if not isinstance(text, str) or not text or len(text) % 2 or text.lower() != text:
        raise ValueError(f"the {what} must be non-empty lowercase hex")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise ValueError(f"the {what} must be non-empty lowercase hex") from None


# -- rows --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WitnessRow:
    """One writer's newest report: ``seq`` and the keyed digest of the object it wrote."""

    writer: str
    seq: int
    digest: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.writer, str) or not _WRITER_RE.match(self.writer):
            raise ValueError("writer must be 32 lowercase hex characters")
        if not valid_seq(self.seq):
            raise ValueError(f"seq must be an integer in 1..{MAX_SEQ}")
        if not isinstance(self.digest, bytes) or len(self.digest) != DIGEST_LEN:
            raise ValueError(f"digest must be {DIGEST_LEN} bytes")

    def __repr__(self) -> str:
        return f"WitnessRow(writer={self.writer!r}, seq={self.seq}, digest=<{DIGEST_LEN} bytes>)"


@dataclass(frozen=True)
class SignedRow:
    """A row as a witness returns it: with its signature and the time of its last update."""

    row: WitnessRow
    signature: bytes
    updated: str
    """RFC 3339 UTC (``2026-12-01T20:15:00Z``), the vault's clock: informative only."""


def valid_seq(seq: object) -> bool:
    return isinstance(seq, int) and not isinstance(seq, bool) and 1 <= seq <= MAX_SEQ


def row_message(witness_id: bytes, row: WitnessRow) -> bytes:
    """The exact bytes a row's signature covers (see the module rules)."""
    if not isinstance(witness_id, bytes) or len(witness_id) != WITNESS_ID_LEN:
        raise ValueError(f"witness_id must be {WITNESS_ID_LEN} bytes")
    return (
        ROW_CONTEXT
        + witness_id
        + bytes.fromhex(row.writer)
        + row.seq.to_bytes(8, "big")
        + row.digest
    )


def sign_row(keys: WitnessKeys, row: WitnessRow) -> bytes:
    """The owner's signature of ``row`` for its witness ID."""
    return keys.sign(row_message(keys.witness_id, row))


def verify_row(public_key: object, witness_id: object, row: object, signature: object) -> bool:
    """Whether ``signature`` is a valid signature of ``row``; False on any malformed input."""
    try:
        if not isinstance(row, WitnessRow) or not isinstance(signature, bytes):
            return False
        if not isinstance(public_key, bytes) or len(public_key) != PUBLIC_KEY_LEN:
            return False
        if len(signature) != SIGNATURE_LEN or not isinstance(witness_id, bytes):
            return False
        Ed25519PublicKey.from_public_bytes(public_key).verify(
            signature, row_message(witness_id, row)
        )
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


# -- JSON bodies -------------------------------------------------------------------------------
def b64e(data: bytes) -> str:
    """Unpadded base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64d(text: object, name: str, length: int) -> bytes:
    """Decode the base64url field ``name`` of exactly ``length`` bytes; ValueError otherwise."""
    if not isinstance(text, str) or len(text) > 4 * (length // 3 + 2) or not _B64_RE.match(text):
        raise ValueError(f"field {name!r} must be a base64url string of {length} bytes")
    stripped = text.rstrip("=")
    try:
        data = base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))
    except (binascii.Error, ValueError):
        raise ValueError(f"field {name!r} is not valid base64url") from None
    if len(data) != length:
        raise ValueError(f"field {name!r} must decode to {length} bytes")
    return data


@dataclass(frozen=True)
class UpdateRequest:
    """A parsed ``POST /v1/witness/update`` body (its signature not yet checked)."""

    witness_id: bytes
    public_key: bytes
    row: WitnessRow
    signature: bytes

    def __repr__(self) -> str:
        return f"UpdateRequest(witness_id=<redacted>, row={self.row!r})"


def update_request(keys: WitnessKeys, row: WitnessRow) -> dict[str, Any]:
    """The body of ``POST /v1/witness/update`` for ``row``, signed with ``keys``."""
    return {
        "witness_id": b64e(keys.witness_id),
        "public_key": b64e(keys.public_key),
        "writer": row.writer,
        "seq": row.seq,
        "digest": b64e(row.digest),
        "signature": b64e(sign_row(keys, row)),
    }


def _row_fields(body: dict[str, Any]) -> WitnessRow:
    writer, seq = body.get("writer"), body.get("seq")
    if not isinstance(writer, str) or not _WRITER_RE.match(writer):
        raise ValueError("field 'writer' must be 32 lowercase hex characters")
    if not valid_seq(seq):
        raise ValueError(f"field 'seq' must be an integer in 1..{MAX_SEQ}")
    assert isinstance(seq, int)
    return WitnessRow(writer, seq, b64d(body.get("digest"), "digest", DIGEST_LEN))


def _object(body: object) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


def parse_update_request(body: object) -> UpdateRequest:
    """Check every field of an update body (lengths, canonical spellings); ValueError if not."""
    body = _object(body)
    return UpdateRequest(
        witness_id=b64d(body.get("witness_id"), "witness_id", WITNESS_ID_LEN),
        public_key=b64d(body.get("public_key"), "public_key", PUBLIC_KEY_LEN),
        row=_row_fields(body),
        signature=b64d(body.get("signature"), "signature", SIGNATURE_LEN),
    )


def read_request(keys: WitnessKeys) -> dict[str, Any]:
    """The body of ``POST /v1/witness/read``."""
    return {"witness_id": b64e(keys.witness_id)}


def parse_read_request(body: object) -> bytes:
    """The witness ID of a read body; ValueError if malformed."""
    return b64d(_object(body).get("witness_id"), "witness_id", WITNESS_ID_LEN)


def read_response(public_key: bytes | None, rows: list[SignedRow]) -> dict[str, Any]:
    """The 200 body of ``POST /v1/witness/read`` (rows in writer order)."""
    return {
        "public_key": None if public_key is None else b64e(public_key),
        "rows": [
            {
                "writer": r.row.writer,
                "seq": r.row.seq,
                "digest": b64e(r.row.digest),
                "signature": b64e(r.signature),
                "updated": r.updated,
            }
            for r in sorted(rows, key=lambda r: r.row.writer)
        ],
    }


_RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")


def parse_read_response(body: object) -> tuple[bytes | None, list[SignedRow]]:
    """``(public_key, rows)`` of a read answer, fields checked (signatures not); ValueError."""
    body = _object(body)
    raw_key, raw_rows = body.get("public_key"), body.get("rows")
    key = None if raw_key is None else b64d(raw_key, "public_key", PUBLIC_KEY_LEN)
    if not isinstance(raw_rows, list) or len(raw_rows) > MAX_WRITERS:
        raise ValueError(f"field 'rows' must be a list of at most {MAX_WRITERS} rows")
    if raw_rows and key is None:
        raise ValueError("rows without a public key")
    rows: list[SignedRow] = []
    for raw in raw_rows:
        raw = _object(raw)
        updated = raw.get("updated")
        if not isinstance(updated, str) or not _RFC3339_UTC.match(updated):
            raise ValueError("field 'updated' must be an RFC 3339 UTC time")
        sig = b64d(raw.get("signature"), "signature", SIGNATURE_LEN)
        rows.append(SignedRow(_row_fields(raw), sig, updated))
    if len({r.row.writer for r in rows}) != len(rows):
        raise ValueError("two rows for one writer")
    return key, rows


def update_response(row: WitnessRow) -> dict[str, Any]:
    """The 200 body of ``POST /v1/witness/update``."""
    return {"writer": row.writer, "seq": row.seq}


def parse_seq_answer(body: object, field: str) -> int:
    """The integer ``field`` (``seq`` of a 200, ``stored_seq`` of a 409 stale); ValueError."""
    value = _object(body).get(field)
    if not valid_seq(value):
        raise ValueError(f"field {field!r} must be an integer in 1..{MAX_SEQ}")
    assert isinstance(value, int)
    return value
