"""Single-use protocol states that serialise to bytes.

Rules:

- Every state holds secrets: ``repr`` is redacted, and ``to_bytes()`` output must be sealed
  (the vault keeps :class:`ServerLoginState` bytes sealed between KE2 and KE3) and erased after
  use. The password is inside the client states because RFC 9807's ``Finalize`` needs it.
- A state object is consumed by the function that finishes it; a second use raises
  :class:`~coffer.opaque.errors.MisuseError`. ``from_bytes`` gives a fresh object, so a caller
  that stores state bytes must delete them after one use (the vault does).
- Malformed state bytes raise :class:`~coffer.opaque.errors.EncodingError`.

Layouts: ``version 0x01 || kind || fields``, kinds 0x11 registration, 0x12 client login,
0x13 server login::

    ClientRegistrationState  01 11 blind[32] password[..]
    ClientLoginState         01 12 blind[32] client_secret[32] ke1[96] password[..]
    ServerLoginState         01 13 expected_client_mac[64] session_key[64]
"""

from __future__ import annotations

from coffer.opaque import _group
from coffer.opaque._group import GroupError
from coffer.opaque.errors import EncodingError, MisuseError
from coffer.opaque.messages import KE1_LEN, NM, NX

_VERSION = 1
_KIND_REGISTRATION = 0x11
_KIND_CLIENT_LOGIN = 0x12
_KIND_SERVER_LOGIN = 0x13


def _body(data: object, kind: int, min_len: int, name: str) -> bytes:
    if not isinstance(data, bytes) or len(data) < 2 + min_len:
        raise EncodingError(f"{name} bytes are too short")
    if data[0] != _VERSION or data[1] != kind:
        raise EncodingError(f"not a {name} (version or kind byte)")
    return data[2:]


def _scalar(data: bytes, name: str) -> bytes:
    try:
        return _group.deserialize_scalar(data)
    except GroupError:
        raise EncodingError(f"{name} holds an invalid scalar") from None


class _State:
    __slots__ = ("_used",)

    def __init__(self) -> None:
        self._used = False

    def _consume(self) -> None:
        if self._used:
            raise MisuseError(f"{type(self).__name__} was already used")
        self._used = True

    def __repr__(self) -> str:
        return f"{type(self).__name__}(<redacted>)"


class ClientRegistrationState(_State):
    """Client state between the registration request and the response."""

    __slots__ = ("blind", "password")

    def __init__(self, password: bytes, blind: bytes) -> None:
        super().__init__()
        self.password = password
        self.blind = blind

    def to_bytes(self) -> bytes:
        return bytes((_VERSION, _KIND_REGISTRATION)) + self.blind + self.password

    @classmethod
    def from_bytes(cls, data: bytes) -> ClientRegistrationState:
        body = _body(data, _KIND_REGISTRATION, 32, "ClientRegistrationState")
        return cls(body[32:], _scalar(body[:32], "ClientRegistrationState"))


class ClientLoginState(_State):
    """Client state between KE1 and KE2."""

    __slots__ = ("blind", "client_secret", "ke1", "password")

    def __init__(self, password: bytes, blind: bytes, client_secret: bytes, ke1: bytes) -> None:
        super().__init__()
        self.password = password
        self.blind = blind
        self.client_secret = client_secret
        self.ke1 = ke1

    def to_bytes(self) -> bytes:
        head = bytes((_VERSION, _KIND_CLIENT_LOGIN))
        return head + self.blind + self.client_secret + self.ke1 + self.password

    @classmethod
    def from_bytes(cls, data: bytes) -> ClientLoginState:
        body = _body(data, _KIND_CLIENT_LOGIN, 64 + KE1_LEN, "ClientLoginState")
        blind = _scalar(body[:32], "ClientLoginState")
        secret = _scalar(body[32:64], "ClientLoginState")
        return cls(body[64 + KE1_LEN :], blind, secret, body[64 : 64 + KE1_LEN])


class ServerLoginState(_State):
    """Server state between KE2 and KE3: the expected client MAC and the session key."""

    __slots__ = ("expected_client_mac", "session_key")

    def __init__(self, expected_client_mac: bytes, session_key: bytes) -> None:
        super().__init__()
        self.expected_client_mac = expected_client_mac
        self.session_key = session_key

    def to_bytes(self) -> bytes:
        head = bytes((_VERSION, _KIND_SERVER_LOGIN))
        return head + self.expected_client_mac + self.session_key

    @classmethod
    def from_bytes(cls, data: bytes) -> ServerLoginState:
        body = _body(data, _KIND_SERVER_LOGIN, NM + NX, "ServerLoginState")
        if len(body) != NM + NX:
            raise EncodingError("ServerLoginState bytes have the wrong length")
        return cls(body[:NM], body[NM:])
