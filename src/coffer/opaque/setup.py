"""The server's long-term OPAQUE secrets: OPRF seed and AKE key pair, as a versioned blob.

Rules:

- One :class:`ServerSetup` serves every account (RFC 9807 recommends one ``oprf_seed`` for all
  clients, which is what makes fake records for unknown accounts indistinguishable).
- ``to_bytes()`` is secret: seal it (HSM or 0600 key file) before it touches storage.
  ``repr`` never shows it.
- Blob layout (130 bytes): ``version 0x01 || suite 0x01 (ristretto255-SHA512) || oprf_seed[64]
  || private_key[32] || public_key[32]``; ``from_bytes`` checks that the public key matches.
- ``from_opaque_ke_bytes`` imports opaque-ke's 128-byte ``ServerSetup`` (``oprf_seed[64] ||
  private_key[32] || fake-record public key[32]``); the last field is ignored.

Theory: the fake record for unknown accounts (RFC 9807 section 6.3.2.2) is created once per
setup, as the RFC recommends, and derived rather than stored so stateless vault nodes agree on
it: ``Expand(oprf_seed, "CofferFakeRecord", 96)`` gives a 32-byte key-pair seed and a 64-byte
masking key; its envelope is 96 zero bytes. The label cannot collide with the per-account
``credential_identifier || "OprfKey"`` info, which always ends in ``"OprfKey"``.
"""

from __future__ import annotations

import os

from coffer.opaque import _group, _kdf, _oprf
from coffer.opaque._group import GroupError, Rng
from coffer.opaque.errors import EncodingError, MisuseError
from coffer.opaque.messages import ENVELOPE_LEN, NH, NSEED, Record

DH_KEYPAIR_INFO = b"OPAQUE-DeriveDiffieHellmanKeyPair"
_VERSION = 1
_SUITE = 1
_BLOB_LEN = 2 + NH + 32 + 32
_FAKE_LABEL = b"CofferFakeRecord"


def derive_dh_key_pair(seed: bytes) -> tuple[bytes, bytes]:
    """RFC 9807 DeriveDiffieHellmanKeyPair for ristretto255."""
    return _oprf.derive_key_pair(seed, DH_KEYPAIR_INFO)


def draw(rng: Rng, n: int) -> bytes:
    """``rng(n)``, checked: an RNG that returns the wrong length is a local bug."""
    data = rng(n)
    if not isinstance(data, bytes) or len(data) != n:
        raise MisuseError(f"rng({n}) must return {n} bytes")
    return data


class ServerSetup:
    """OPRF seed plus AKE key pair of a vault; ``public_key`` is what clients pin."""

    __slots__ = ("_fake_record", "_oprf_seed", "_private_key", "_public_key")

    def __init__(self, oprf_seed: bytes, private_key: bytes) -> None:
        if not isinstance(oprf_seed, bytes) or len(oprf_seed) != NH:
            raise MisuseError("oprf_seed must be 64 bytes")
        try:
            self._private_key = _group.deserialize_scalar(private_key)
        except GroupError:
            raise EncodingError("server private key is not a valid scalar") from None
        self._oprf_seed = oprf_seed
        self._public_key = _group.scalar_mult_base(self._private_key)
        self._fake_record = self._derive_fake_record()

    @classmethod
    def generate(cls, rng: Rng = os.urandom) -> ServerSetup:
        """A fresh setup: 64 random bytes of OPRF seed and a key pair from a 32-byte seed."""
        oprf_seed = draw(rng, NH)
        private_key, _ = derive_dh_key_pair(draw(rng, NSEED))
        return cls(oprf_seed, private_key)

    @classmethod
    def from_bytes(cls, data: bytes) -> ServerSetup:
        if not isinstance(data, bytes) or len(data) != _BLOB_LEN:
            raise EncodingError("server setup blob has the wrong length")
        if data[0] != _VERSION or data[1] != _SUITE:
            raise EncodingError("unsupported server setup version or suite")
        setup = cls(data[2 : 2 + NH], data[2 + NH : 2 + NH + 32])
        if not _kdf.ct_equal(setup.public_key, data[2 + NH + 32 :]):
            raise EncodingError("server setup public key does not match its private key")
        return setup

    @classmethod
    def from_opaque_ke_bytes(cls, data: bytes) -> ServerSetup:
        """Import opaque-ke's serialised ServerSetup (128 bytes, ristretto255 suite)."""
        if not isinstance(data, bytes) or len(data) != NH + 64:
            raise EncodingError("opaque-ke server setup must be 128 bytes")
        return cls(data[:NH], data[NH : NH + 32])

    def to_bytes(self) -> bytes:
        """The versioned secret blob; seal it before storing."""
        header = bytes((_VERSION, _SUITE))
        return header + self._oprf_seed + self._private_key + self._public_key

    @property
    def public_key(self) -> bytes:
        return self._public_key

    @property
    def oprf_seed(self) -> bytes:
        return self._oprf_seed

    @property
    def private_key(self) -> bytes:
        return self._private_key

    @property
    def fake_record(self) -> Record:
        return self._fake_record

    def _derive_fake_record(self) -> Record:
        material = _kdf.expand(self._oprf_seed, _FAKE_LABEL, NSEED + NH)
        _, fake_public_key = derive_dh_key_pair(material[:NSEED])
        return Record(fake_public_key, material[NSEED:], bytes(ENVELOPE_LEN))

    def __repr__(self) -> str:
        return f"ServerSetup(public_key={self._public_key.hex()}, <secrets redacted>)"
