"""Randomized password, envelope Store/Recover and credential masking (RFC 9807 sections 4,
5.2.3 and 6.3.2).

Rules:

- :func:`recover` checks the envelope's ``auth_tag`` in constant time and raises
  :class:`EnvelopeError` on mismatch; the caller folds that into ``InvalidLogin``.
- Identities default to the public keys (``CreateCleartextCredentials``).

Theory: ``randomized_password = Extract("", oprf_output || Stretch(oprf_output))``. From it and a
fresh ``envelope_nonce`` come ``masking_key``, ``auth_key``, ``export_key`` and the seed of the
client's AKE key pair; the envelope is ``nonce || MAC(auth_key, nonce || cleartext_credentials)``.
At login the server hides ``server_public_key || envelope`` under a pad expanded from the
record's ``masking_key`` and a fresh ``masking_nonce``.
"""

from __future__ import annotations

from dataclasses import dataclass

from coffer.opaque import _kdf, _trace
from coffer.opaque.ksf import KSF
from coffer.opaque.messages import MASKED_RESPONSE_LEN, NH, NN, NPK, NSEED
from coffer.opaque.setup import derive_dh_key_pair


class EnvelopeError(Exception):
    """Internal: the envelope's auth tag did not verify."""


@dataclass(frozen=True, repr=False)
class Credentials:
    """CleartextCredentials after defaulting identities to public keys."""

    server_public_key: bytes
    server_identity: bytes
    client_identity: bytes

    def encode(self) -> bytes:
        return (
            self.server_public_key
            + len(self.server_identity).to_bytes(2, "big")
            + self.server_identity
            + len(self.client_identity).to_bytes(2, "big")
            + self.client_identity
        )


def cleartext_credentials(
    server_public_key: bytes,
    client_public_key: bytes,
    server_identity: bytes | None,
    client_identity: bytes | None,
) -> Credentials:
    """RFC 9807 CreateCleartextCredentials."""
    return Credentials(
        server_public_key,
        server_public_key if server_identity is None else server_identity,
        client_public_key if client_identity is None else client_identity,
    )


def randomized_password(oprf_output: bytes, ksf: KSF) -> bytes:
    """``Extract("", oprf_output || Stretch(oprf_output))``."""
    rwd = _kdf.extract(b"", oprf_output + ksf.stretch(oprf_output))
    _trace.note("randomized_password", rwd)
    return rwd


def masking_key(rwd: bytes) -> bytes:
    key = _kdf.expand(rwd, b"MaskingKey", NH)
    _trace.note("masking_key", key)
    return key


@dataclass(frozen=True, repr=False)
class EnvelopeKeys:
    """The keys an envelope nonce and the randomized password determine."""

    auth_key: bytes
    export_key: bytes
    client_private_key: bytes
    client_public_key: bytes


def envelope_keys(rwd: bytes, nonce: bytes) -> EnvelopeKeys:
    auth_key = _kdf.expand(rwd, nonce + b"AuthKey", NH)
    export_key = _kdf.expand(rwd, nonce + b"ExportKey", NH)
    seed = _kdf.expand(rwd, nonce + b"PrivateKey", NSEED)
    private_key, public_key = derive_dh_key_pair(seed)
    _trace.note("auth_key", auth_key)
    return EnvelopeKeys(auth_key, export_key, private_key, public_key)


def store(
    rwd: bytes, nonce: bytes, server_public_key: bytes, config_ids: tuple[bytes | None, ...]
) -> tuple[bytes, EnvelopeKeys]:
    """RFC 9807 Store: ``(envelope, keys)``; ``config_ids`` is (server_id, client_id)."""
    keys = envelope_keys(rwd, nonce)
    creds = cleartext_credentials(server_public_key, keys.client_public_key, *config_ids)
    envelope = nonce + _kdf.mac(keys.auth_key, nonce + creds.encode())
    _trace.note("envelope", envelope)
    return envelope, keys


def recover(
    rwd: bytes, server_public_key: bytes, envelope: bytes, config_ids: tuple[bytes | None, ...]
) -> tuple[EnvelopeKeys, Credentials]:
    """RFC 9807 Recover; raises :class:`EnvelopeError` if the auth tag does not match."""
    nonce, auth_tag = envelope[:NN], envelope[NN:]
    keys = envelope_keys(rwd, nonce)
    creds = cleartext_credentials(server_public_key, keys.client_public_key, *config_ids)
    expected = _kdf.mac(keys.auth_key, nonce + creds.encode())
    if not _kdf.ct_equal(auth_tag, expected):
        raise EnvelopeError("envelope auth tag mismatch")
    return keys, creds


def mask(masking_key_: bytes, masking_nonce: bytes, plaintext: bytes) -> bytes:
    """XOR ``server_public_key || envelope`` with the credential-response pad (both ways)."""
    pad = _kdf.expand(masking_key_, masking_nonce + b"CredentialResponsePad", MASKED_RESPONSE_LEN)
    return _kdf.xor(pad, plaintext)


def unmask(masking_key_: bytes, masking_nonce: bytes, masked: bytes) -> tuple[bytes, bytes]:
    """``(server_public_key, envelope)`` from a masked response."""
    plain = mask(masking_key_, masking_nonce, masked)
    return plain[:NPK], plain[NPK:]
