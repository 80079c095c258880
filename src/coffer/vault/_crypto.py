"""Small safe recipes the vault and its client compose from `cryptography` and libsodium.

Rules: every key used here is 32 bytes and derived for one purpose by :func:`derive` with a label
under ``coffer-vault/v1/``; :func:`seal`/:func:`open_sealed` are XChaCha20-Poly1305 (libsodium)
with a random 192-bit nonce carried in front of the ciphertext, so one key may seal any number of
messages; every failure to open raises one error, :class:`OpenFailed`, never saying why.

Theory of operation: the vault derives from its sealed server setup a *state key* that seals the
OPAQUE server state between KE2 and KE3; the client derives from the OPAQUE export key an *escrow
key* that seals V before upload; both sides derive from the OPAQUE session key a *release key*
(the vault seals the escrowed blob once more for the trip home) and an *auth key* (a MAC over a
change-password or delete request, so a network attacker cannot repurpose a captured KE3).
"""

from __future__ import annotations

import hashlib
import hmac
import os

import pysodium
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_LEN = 32
NONCE_LEN = 24
TAG_LEN = 16
OVERHEAD = NONCE_LEN + TAG_LEN

LABEL_STATE = b"coffer-vault/v1/login-state"
LABEL_HELD_STATE = b"coffer-vault/v1/held-login-state"
LABEL_ESCROW = b"coffer-vault/v1/escrow"
LABEL_RELEASE = b"coffer-vault/v1/release"
LABEL_AUTH = b"coffer-vault/v1/auth"


class OpenFailed(Exception):
    """A sealed message did not authenticate (wrong key, wrong associated data, or tampered)."""


def derive(secret: bytes, label: bytes) -> bytes:
    """A 32-byte key for one purpose: HKDF-SHA256(secret, salt=empty, info=label)."""
    return HKDF(algorithm=hashes.SHA256(), length=KEY_LEN, salt=None, info=label).derive(secret)


def seal(key: bytes, plaintext: bytes, ad: bytes, nonce: bytes | None = None) -> bytes:
    """XChaCha20-Poly1305: nonce ‖ ciphertext ‖ tag, with ``ad`` authenticated. ``nonce`` is
    random unless given (only the wire vectors give one)."""
    nonce = os.urandom(NONCE_LEN) if nonce is None else nonce
    if len(nonce) != NONCE_LEN:
        raise ValueError("XChaCha20-Poly1305 nonces are 24 bytes")
    ct: bytes = pysodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, ad, nonce, key)
    return nonce + ct


def open_sealed(key: bytes, sealed: bytes, ad: bytes) -> bytes:
    """The inverse of :func:`seal`; raises :class:`OpenFailed` on any failure."""
    if len(sealed) < OVERHEAD:
        raise OpenFailed("sealed message too short")
    try:
        pt: bytes = pysodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
            sealed[NONCE_LEN:], ad, sealed[:NONCE_LEN], key
        )
    except Exception:
        raise OpenFailed("sealed message does not authenticate") from None
    return pt


def mac(key: bytes, *parts: bytes) -> bytes:
    """HMAC-SHA256 over length-prefixed parts (so part boundaries are unambiguous)."""
    h = hmac.new(key, digestmod=hashlib.sha256)
    for part in parts:
        h.update(len(part).to_bytes(4, "big"))
        h.update(part)
    return h.digest()


def mac_ok(key: bytes, tag: bytes, *parts: bytes) -> bool:
    """Constant-time check of a :func:`mac` tag."""
    return hmac.compare_digest(mac(key, *parts), tag)


def fingerprint(public_key: bytes) -> str:
    """The public key's fingerprint shown to users: SHA-256, first 16 bytes, hex in groups of 4."""
    digest = hashlib.sha256(b"coffer-vault/v1/fingerprint" + public_key).hexdigest()[:32]
    return ":".join(digest[i : i + 4] for i in range(0, 32, 4))
