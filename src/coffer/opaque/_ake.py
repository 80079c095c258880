"""The 3DH key schedule of RFC 9807 section 6.4 over ristretto255.

Rules:

- The preamble binds the context string, both identities, KE1, the credential response and
  the server's nonce and key share; the three Diffie-Hellman results feed HKDF-Extract.
- MACs are compared in constant time by the callers (:func:`coffer.opaque._kdf.ct_equal`).
- Group failures raise the internal ``GroupError``; callers map them to the public errors.

Theory: ``ikm = dh1 || dh2 || dh3`` where the server computes ``(esk·X, sk·X, esk·C)`` and the
client ``(x·ES, x·S, c·ES)`` for ephemeral keys ``x, esk``, static keys ``c, sk`` and their public
halves ``X, ES, C, S``. ``prk = Extract("", ikm)``; ``handshake_secret`` and ``session_key`` are
Derive-Secret of prk with ``Hash(preamble)``; ``Km2``/``Km3`` are Derive-Secret of the handshake
secret with an empty transcript. ``server_mac = MAC(Km2, Hash(preamble))`` and
``client_mac = MAC(Km3, Hash(preamble || server_mac))``.
"""

from __future__ import annotations

from dataclasses import dataclass

from coffer.opaque import _group, _kdf, _trace

PREAMBLE_PREFIX = b"OPAQUEv1-"


def _prefixed(value: bytes) -> bytes:
    return len(value).to_bytes(2, "big") + value


def preamble(
    context: bytes,
    client_identity: bytes,
    ke1: bytes,
    server_identity: bytes,
    credential_response: bytes,
    server_nonce: bytes,
    server_keyshare: bytes,
) -> bytes:
    """RFC 9807 Preamble."""
    return b"".join(
        (
            PREAMBLE_PREFIX,
            _prefixed(context),
            _prefixed(client_identity),
            ke1,
            _prefixed(server_identity),
            credential_response,
            server_nonce,
            server_keyshare,
        )
    )


@dataclass(frozen=True, repr=False)
class SessionKeys:
    """Output of DeriveKeys plus the two MACs of the handshake."""

    session_key: bytes
    server_mac: bytes
    client_mac: bytes


def derive_keys(ikm: bytes, preamble_: bytes) -> SessionKeys:
    """RFC 9807 DeriveKeys followed by both MAC computations."""
    prk = _kdf.extract(b"", ikm)
    transcript_hash = _kdf.hash_(preamble_)
    handshake_secret = _kdf.derive_secret(prk, b"HandshakeSecret", transcript_hash)
    session_key = _kdf.derive_secret(prk, b"SessionKey", transcript_hash)
    km2 = _kdf.derive_secret(handshake_secret, b"ServerMAC", b"")
    km3 = _kdf.derive_secret(handshake_secret, b"ClientMAC", b"")
    _trace.note("handshake_secret", handshake_secret)
    _trace.note("server_mac_key", km2)
    _trace.note("client_mac_key", km3)
    server_mac = _kdf.mac(km2, transcript_hash)
    client_mac = _kdf.mac(km3, _kdf.hash_(preamble_ + server_mac))
    return SessionKeys(session_key, server_mac, client_mac)


def triple_dh(pairs: tuple[tuple[bytes, bytes], ...]) -> bytes:
    """Concatenate ``scalar * element`` for each ``(scalar, element)`` pair."""
    return b"".join(_group.scalar_mult(scalar, element) for scalar, element in pairs)
