"""ristretto255 group and scalar operations, all delegated to libsodium through ``pysodium``.

Rules:

- Every element that comes from outside passes :func:`deserialize_element`, which rejects
  non-canonical encodings and the identity element (RFC 9497 section 2.1).
- Every scalar that comes from outside passes :func:`deserialize_scalar` (canonical, non-zero).
- Failures raise :class:`GroupError`, an internal exception that the protocol layer maps to the
  public error that fits the context (:class:`~coffer.opaque.errors.EncodingError` or
  :class:`~coffer.opaque.errors.InvalidLogin`). It never leaves the package.

Theory: elements and scalars are kept as their 32-byte encodings throughout; libsodium decodes
and re-encodes on every operation. ``random_scalar`` follows libsodium's own
``crypto_core_ristretto255_scalar_random`` (draw 32 bytes, clear the top three bits, reject
values >= L or zero) but draws from the injected RNG, so RFC vectors can supply the blind.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

import pysodium

ELEMENT_LEN = 32
SCALAR_LEN = 32
UNIFORM_LEN = 64
ORDER = 2**252 + 27742317777372353535851937790883648493
_IDENTITY = bytes(ELEMENT_LEN)

Rng = Callable[[int], bytes]


class GroupError(Exception):
    """Internal: a group or scalar operation failed (bad encoding, identity result)."""


def deserialize_element(data: bytes) -> bytes:
    """Return ``data`` if it is a canonical, non-identity ristretto255 encoding."""
    if len(data) != ELEMENT_LEN:
        raise GroupError("element length")
    if hmac.compare_digest(data, _IDENTITY) or not pysodium.crypto_core_ristretto255_is_valid_point(
        data
    ):
        raise GroupError("invalid element")
    return bytes(data)


def _is_canonical_nonzero(data: bytes) -> bool:
    value = int.from_bytes(data, "little")
    return 0 < value < ORDER


def deserialize_scalar(data: bytes) -> bytes:
    """Return ``data`` if it encodes a scalar in ``[1, L)``."""
    if len(data) != SCALAR_LEN or not _is_canonical_nonzero(data):
        raise GroupError("invalid scalar")
    return bytes(data)


def random_scalar(rng: Rng) -> bytes:
    """A uniformly random non-zero scalar drawn from ``rng`` by rejection sampling."""
    while True:
        candidate = bytearray(rng(SCALAR_LEN))
        candidate[31] &= 0x1F
        if _is_canonical_nonzero(bytes(candidate)):
            return bytes(candidate)


def reduce_scalar(uniform: bytes) -> bytes:
    """Reduce 64 uniform bytes (little-endian) modulo the group order."""
    return bytes(pysodium.crypto_core_ristretto255_scalar_reduce(uniform))


def element_from_hash(uniform: bytes) -> bytes:
    """Map 64 uniform bytes to an element (the ristretto255 hash-to-group map)."""
    return bytes(pysodium.crypto_core_ristretto255_from_hash(uniform))


def scalar_mult(scalar: bytes, element: bytes) -> bytes:
    """``scalar * element``; raises :class:`GroupError` if the result is the identity."""
    try:
        return bytes(pysodium.crypto_scalarmult_ristretto255(scalar, element))
    except ValueError:
        raise GroupError("scalar multiplication failed") from None


def scalar_mult_base(scalar: bytes) -> bytes:
    """``scalar * G`` for the ristretto255 generator ``G``."""
    try:
        return bytes(pysodium.crypto_scalarmult_ristretto255_base(scalar))
    except ValueError:
        raise GroupError("base multiplication failed") from None


def scalar_invert(scalar: bytes) -> bytes:
    """The multiplicative inverse of a non-zero scalar."""
    try:
        return bytes(pysodium.crypto_core_ristretto255_scalar_invert(scalar))
    except ValueError:
        raise GroupError("scalar inversion failed") from None
