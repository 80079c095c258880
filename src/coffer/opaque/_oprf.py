"""The RFC 9497 OPRF, mode 0x00 (modeOPRF), suite ristretto255-SHA512.

Rules:

- Only what RFC 9807 uses: ``blind``, ``blind_evaluate``, ``finalize``, ``derive_key_pair``
  (and its private half alone, ``derive_private_key``).
- Hash-to-group is RFC 9380 ``hash_to_ristretto255``: 64 bytes of ``expand_message_xmd`` with
  SHA-512, mapped by libsodium's ``crypto_core_ristretto255_from_hash``. ``expand_message_xmd``
  is written out here from RFC 9380 section 5.3.1 with ``hashlib``.
- Hash-to-scalar is 64 bytes of ``expand_message_xmd`` reduced modulo the group order.
- Inputs that come from a peer are deserialised by the caller (see :mod:`._group`).

Theory: ``contextString = "OPRFV1-" || I2OSP(0x00, 1) || "-" || "ristretto255-SHA512"``; the
client sends ``blind * H(input)``, the server multiplies by its key ``k``, the client removes the
blind and hashes ``len(input) || input || len(element) || element || "Finalize"`` with SHA-512.
"""

from __future__ import annotations

import hashlib

from coffer.opaque import _group
from coffer.opaque._group import GroupError, Rng

CONTEXT_STRING = b"OPRFV1-\x00-ristretto255-SHA512"
HASH_TO_GROUP_DST = b"HashToGroup-" + CONTEXT_STRING
HASH_TO_SCALAR_DST = b"HashToScalar-" + CONTEXT_STRING
DERIVE_KEY_PAIR_DST = b"DeriveKeyPair" + CONTEXT_STRING
OUTPUT_LEN = 64

_B_IN_BYTES = 64  # SHA-512 output
_S_IN_BYTES = 128  # SHA-512 block


def i2osp(value: int, length: int) -> bytes:
    """Big-endian fixed-length integer encoding (RFC 8017 I2OSP)."""
    return value.to_bytes(length, "big")


def expand_message_xmd(msg: bytes, dst: bytes, len_in_bytes: int) -> bytes:
    """RFC 9380 section 5.3.1 expand_message_xmd with SHA-512."""
    ell = -(-len_in_bytes // _B_IN_BYTES)
    if ell > 255 or len_in_bytes > 65535 or len(dst) > 255:
        raise ValueError("expand_message_xmd parameters out of range")
    dst_prime = dst + i2osp(len(dst), 1)
    msg_prime = bytes(_S_IN_BYTES) + msg + i2osp(len_in_bytes, 2) + b"\x00" + dst_prime
    b_0 = hashlib.sha512(msg_prime).digest()
    b_i = hashlib.sha512(b_0 + b"\x01" + dst_prime).digest()
    blocks = [b_i]
    for i in range(2, ell + 1):
        mixed = bytes(x ^ y for x, y in zip(b_0, b_i, strict=True))
        b_i = hashlib.sha512(mixed + i2osp(i, 1) + dst_prime).digest()
        blocks.append(b_i)
    return b"".join(blocks)[:len_in_bytes]


def hash_to_group(msg: bytes) -> bytes:
    """RFC 9380 hash_to_ristretto255 with the OPRF's HashToGroup DST."""
    uniform = expand_message_xmd(msg, HASH_TO_GROUP_DST, _group.UNIFORM_LEN)
    return _group.element_from_hash(uniform)


def hash_to_scalar(msg: bytes, dst: bytes = HASH_TO_SCALAR_DST) -> bytes:
    """RFC 9497 HashToScalar for ristretto255: 64 uniform bytes reduced mod L."""
    return _group.reduce_scalar(expand_message_xmd(msg, dst, _group.UNIFORM_LEN))


def derive_private_key(seed: bytes, info: bytes) -> bytes:
    """The ``sk`` of :func:`derive_key_pair` alone: the server's per-account OPRF key is only
    ever multiplied, so its public half (a base multiplication per login) is not computed."""
    derive_input = seed + i2osp(len(info), 2) + info
    for counter in range(256):
        sk = hash_to_scalar(derive_input + i2osp(counter, 1), DERIVE_KEY_PAIR_DST)
        if any(sk):
            return sk
    raise GroupError("DeriveKeyPair failed")  # probability ~2^-64000


def derive_key_pair(seed: bytes, info: bytes) -> tuple[bytes, bytes]:
    """RFC 9497 section 3.2.1 DeriveKeyPair: deterministic ``(sk, pk)`` from seed and info."""
    sk = derive_private_key(seed, info)
    return sk, _group.scalar_mult_base(sk)


def blind(oprf_input: bytes, rng: Rng) -> tuple[bytes, bytes]:
    """RFC 9497 Blind: ``(blind, blinded_element)``."""
    input_element = hash_to_group(oprf_input)
    if not any(input_element):
        raise GroupError("input hashes to the identity")
    blind_scalar = _group.random_scalar(rng)
    return blind_scalar, _group.scalar_mult(blind_scalar, input_element)


def blind_evaluate(key: bytes, blinded_element: bytes) -> bytes:
    """RFC 9497 BlindEvaluate: ``key * blinded_element``."""
    return _group.scalar_mult(key, blinded_element)


def finalize(oprf_input: bytes, blind_scalar: bytes, evaluated_element: bytes) -> bytes:
    """RFC 9497 Finalize: unblind and hash to the 64-byte OPRF output."""
    unblinded = _group.scalar_mult(_group.scalar_invert(blind_scalar), evaluated_element)
    hash_input = (
        i2osp(len(oprf_input), 2) + oprf_input + i2osp(len(unblinded), 2) + unblinded + b"Finalize"
    )
    return hashlib.sha512(hash_input).digest()
