"""Wire formats of the OPAQUE-3DH messages (RFC 9807 sections 5.1, 6.1, 6.3.1) for
ristretto255-SHA512.

Rules:

- Every message has one fixed length; anything else raises
  :class:`~coffer.opaque.errors.EncodingError`.
- Parsing here only splits bytes. Whether a group element decodes is checked by the protocol
  functions, which know whether a failure is a malformed request (``EncodingError``) or part of a
  failed login (``InvalidLogin``).

Byte layouts (``Noe = Npk = Nn = 32``, ``Nh = Nm = 64``)::

    RegistrationRequest  blinded_message[32]                                       =  32
    RegistrationResponse evaluated_message[32] server_public_key[32]               =  64
    RegistrationRecord   client_public_key[32] masking_key[64] envelope[96]        = 192
      Envelope           envelope_nonce[32] auth_tag[64]                           =  96
    KE1                  blinded_message[32] client_nonce[32] client_keyshare[32]  =  96
    KE2                  credential_response[192] server_nonce[32]
                         server_keyshare[32] server_mac[64]                        = 320
      CredentialResponse evaluated_message[32] masking_nonce[32] masked_response[128]
    KE3                  client_mac[64]                                            =  64
"""

from __future__ import annotations

from dataclasses import dataclass

from coffer.opaque.errors import EncodingError

NOE = 32
NPK = 32
NSK = 32
NN = 32
NSEED = 32
NOK = 32
NH = 64
NM = 64
NX = 64

ENVELOPE_LEN = NN + NM
MASKED_RESPONSE_LEN = NPK + ENVELOPE_LEN
CREDENTIAL_RESPONSE_LEN = NOE + NN + MASKED_RESPONSE_LEN
REGISTRATION_REQUEST_LEN = NOE
REGISTRATION_RESPONSE_LEN = NOE + NPK
RECORD_LEN = NPK + NH + ENVELOPE_LEN
KE1_LEN = NOE + NN + NPK
KE2_LEN = CREDENTIAL_RESPONSE_LEN + NN + NPK + NM
KE3_LEN = NM


def _split(data: object, sizes: tuple[int, ...], what: str) -> list[bytes]:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise EncodingError(f"{what} must be bytes")
    raw = bytes(data)
    if len(raw) != sum(sizes):
        raise EncodingError(f"{what} must be {sum(sizes)} bytes, got {len(raw)}")
    parts, offset = [], 0
    for size in sizes:
        parts.append(raw[offset : offset + size])
        offset += size
    return parts


@dataclass(frozen=True, repr=False)
class Record:
    """A parsed RegistrationRecord (holds the masking key: no repr)."""

    client_public_key: bytes
    masking_key: bytes
    envelope: bytes

    @classmethod
    def parse(cls, data: object) -> Record:
        pk, masking_key, envelope = _split(data, (NPK, NH, ENVELOPE_LEN), "record")
        return cls(pk, masking_key, envelope)

    def to_bytes(self) -> bytes:
        return self.client_public_key + self.masking_key + self.envelope


@dataclass(frozen=True)
class KE1:
    """A parsed KE1 (CredentialRequest + AuthRequest)."""

    blinded_message: bytes
    client_nonce: bytes
    client_keyshare: bytes

    @classmethod
    def parse(cls, data: object) -> KE1:
        return cls(*_split(data, (NOE, NN, NPK), "KE1"))

    def to_bytes(self) -> bytes:
        return self.blinded_message + self.client_nonce + self.client_keyshare


@dataclass(frozen=True)
class KE2:
    """A parsed KE2 (CredentialResponse + AuthResponse)."""

    evaluated_message: bytes
    masking_nonce: bytes
    masked_response: bytes
    server_nonce: bytes
    server_keyshare: bytes
    server_mac: bytes

    @classmethod
    def parse(cls, data: object) -> KE2:
        return cls(*_split(data, (NOE, NN, MASKED_RESPONSE_LEN, NN, NPK, NM), "KE2"))

    @property
    def credential_response(self) -> bytes:
        return self.evaluated_message + self.masking_nonce + self.masked_response

    def to_bytes(self) -> bytes:
        return self.credential_response + self.server_nonce + self.server_keyshare + self.server_mac


def parse_registration_request(data: object) -> bytes:
    """The blinded message of a RegistrationRequest."""
    return _split(data, (NOE,), "registration request")[0]


def parse_registration_response(data: object) -> tuple[bytes, bytes]:
    """``(evaluated_message, server_public_key)`` of a RegistrationResponse."""
    evaluated, server_public_key = _split(data, (NOE, NPK), "registration response")
    return evaluated, server_public_key


def parse_ke3(data: object) -> bytes:
    """The client MAC of a KE3."""
    return _split(data, (NM,), "KE3")[0]
