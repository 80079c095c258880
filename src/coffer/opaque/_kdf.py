"""Hash, HKDF-SHA512 and HMAC-SHA512 as RFC 9807 names them, plus its Expand-Label.

Rules:

- Extract and MAC are HMAC-SHA512 from the standard library; Expand is ``cryptography``'s
  HKDFExpand. Nothing here is a new construction.
- MAC comparisons elsewhere use :func:`ct_equal` (``hmac.compare_digest``), never ``==``.

Theory (RFC 9807 sections 2.2 and 6.4.2): ``Extract(salt, ikm) = HMAC(salt, ikm)`` (an empty
salt equals a zero salt of hash length, because HMAC zero-pads its key); ``Expand`` is HKDF-Expand;
``Expand-Label(secret, label, context, L) = Expand(secret, CustomLabel, L)`` with the TLS 1.3
``CustomLabel`` encoding of ``"OPAQUE-" + label``.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

NH = 64  # Hash output
NX = 64  # Extract output
NM = 64  # MAC output


def hash_(data: bytes) -> bytes:
    """SHA-512."""
    return hashlib.sha512(data).digest()


def extract(salt: bytes, ikm: bytes) -> bytes:
    """HKDF-Extract with SHA-512."""
    return hmac.new(salt, ikm, hashlib.sha512).digest()


def expand(prk: bytes, info: bytes, length: int) -> bytes:
    """HKDF-Expand with SHA-512."""
    return HKDFExpand(algorithm=hashes.SHA512(), length=length, info=info).derive(prk)


def mac(key: bytes, message: bytes) -> bytes:
    """HMAC-SHA512."""
    return hmac.new(key, message, hashlib.sha512).digest()


def ct_equal(a: bytes, b: bytes) -> bool:
    """Constant-time equality of two byte strings."""
    return hmac.compare_digest(a, b)


def expand_label(secret: bytes, label: bytes, context: bytes, length: int) -> bytes:
    """RFC 9807 Expand-Label: Expand with the TLS 1.3 style ``CustomLabel``."""
    full_label = b"OPAQUE-" + label
    custom_label = (
        length.to_bytes(2, "big")
        + len(full_label).to_bytes(1, "big")
        + full_label
        + len(context).to_bytes(1, "big")
        + context
    )
    return expand(secret, custom_label, length)


def derive_secret(secret: bytes, label: bytes, transcript_hash: bytes) -> bytes:
    """RFC 9807 Derive-Secret."""
    return expand_label(secret, label, transcript_hash, NX)


def xor(a: bytes, b: bytes) -> bytes:
    """Byte-wise XOR of two equal-length strings."""
    if len(a) != len(b):
        raise ValueError("xor of unequal lengths")
    # as integers: one C-level XOR instead of a Python loop over every byte
    return (int.from_bytes(a, "little") ^ int.from_bytes(b, "little")).to_bytes(len(a), "little")
