"""Encoding of the vault's JSON messages: base64url fields, account names, KSF descriptors.

Rules: every request field is checked here before any handler sees it — type, base64url
alphabet (unpadded; padding tolerated on input), exact or maximum decoded length — and every
violation is a :class:`BadRequest` naming the field, never another exception type. Account names
are 1–128 characters of ``[A-Za-z0-9._@+-]``. KSF descriptors are canonical JSON objects with
bounded parameters, so a stored descriptor is always one the client can run.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from coffer.opaque import KSF, Argon2idKSF, IdentityKSF
from coffer.vault.errors import BadRequest

ACCOUNT_RE = re.compile(r"^[A-Za-z0-9._@+\-]{1,128}$")
_B64_RE = re.compile(r"^[A-Za-z0-9_\-]*={0,2}$")
MAX_SECRET = 512
MIN_SECRET = 16
MAX_HELD_STATE = 512  # a client-held login state (``login_state``): about 190 bytes + account
ID_LEN = 16
AUTH_LEN = 32
MAX_KSF_MEMORY_KIB = 4 * 2**20
MAX_KSF_ITERATIONS = 64
MAX_KSF_PARALLELISM = 64


def b64e(data: bytes) -> str:
    """Unpadded base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64d(text: str) -> bytes:
    """Decode unpadded (or padded) base64url; raises ValueError on bad input."""
    if not _B64_RE.match(text):
        raise ValueError("not base64url")
    stripped = text.rstrip("=")
    try:
        return base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None


def body_object(raw: object) -> dict[str, Any]:
    """The request body must be a JSON object."""
    if not isinstance(raw, dict):
        raise BadRequest("the request body must be a JSON object")
    return raw


def field_bytes(
    body: dict[str, Any],
    name: str,
    *,
    length: int | None = None,
    max_len: int | None = None,
    min_len: int = 0,
) -> bytes:
    """A required base64url field of an exact length or within [min_len, max_len]."""
    value = body.get(name)
    if not isinstance(value, str):
        raise BadRequest(f"field {name!r} must be a base64url string")
    if len(value) > 4 * ((max_len or length or 0) // 3 + 2):
        raise BadRequest(f"field {name!r} is too long")
    try:
        data = b64d(value)
    except ValueError:
        raise BadRequest(f"field {name!r} is not valid base64url") from None
    if length is not None and len(data) != length:
        raise BadRequest(f"field {name!r} must decode to {length} bytes")
    if max_len is not None and not min_len <= len(data) <= max_len:
        raise BadRequest(f"field {name!r} must decode to {min_len}..{max_len} bytes")
    return data


def field_flag(body: dict[str, Any], name: str) -> bool:
    """An optional boolean field (absent: False)."""
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise BadRequest(f"field {name!r} must be true or false")
    return value


def field_account(body: dict[str, Any], name: str = "account") -> str:
    return check_account(body.get(name))


def check_account(value: object) -> str:
    if not isinstance(value, str) or not ACCOUNT_RE.match(value):
        raise BadRequest("account must be 1-128 characters of A-Z a-z 0-9 . _ @ + -")
    return value


def credential_identifier(account: str, cred_id: bytes) -> bytes:
    """OPAQUE credential_identifier: fresh per registration, so OPRF answers given before a
    registration are useless against it."""
    name = account.encode("utf-8")
    return b"coffer-vault/v1/cred" + len(name).to_bytes(2, "big") + name + cred_id


# -- KSF descriptors ---------------------------------------------------------------------------
def ksf_to_json(ksf: KSF) -> dict[str, Any]:
    if isinstance(ksf, Argon2idKSF):
        return {
            "alg": "argon2id",
            "memory_kib": ksf.memory_kib,
            "iterations": ksf.iterations,
            "parallelism": ksf.parallelism,
        }
    if isinstance(ksf, IdentityKSF):
        return {"alg": "identity"}
    raise BadRequest(f"unsupported KSF {type(ksf).__name__}")


def _bounded_int(d: dict[str, Any], key: str, hi: int) -> int:
    value = d.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= hi:
        raise BadRequest(f"ksf.{key} must be an integer in 1..{hi}")
    return value


def ksf_from_json(d: object) -> KSF:
    """Parse and bound-check a KSF descriptor; BadRequest on anything else."""
    if not isinstance(d, dict):
        raise BadRequest("ksf must be an object")
    alg = d.get("alg")
    if alg == "identity" and set(d) == {"alg"}:
        return IdentityKSF()
    if alg == "argon2id" and set(d) == {"alg", "memory_kib", "iterations", "parallelism"}:
        m = _bounded_int(d, "memory_kib", MAX_KSF_MEMORY_KIB)
        t = _bounded_int(d, "iterations", MAX_KSF_ITERATIONS)
        p = _bounded_int(d, "parallelism", MAX_KSF_PARALLELISM)
        if m < 8 * p:
            raise BadRequest("ksf.memory_kib must be at least 8 * parallelism")
        return Argon2idKSF(memory_kib=m, iterations=t, parallelism=p)
    raise BadRequest(
        "ksf must be {alg: identity} or {alg: argon2id, memory_kib, iterations, parallelism}"
    )


def ksf_canonical(ksf: KSF) -> str:
    """The canonical JSON text stored with a record (and MACed by change-password)."""
    return json.dumps(ksf_to_json(ksf), sort_keys=True, separators=(",", ":"))
