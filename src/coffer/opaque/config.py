"""The parameters both sides of an OPAQUE exchange must agree on.

Rules:

- ``context`` is bound into every login transcript (RFC 9807 preamble); Coffer uses
  :data:`COFFER_CONTEXT`. A client and a server with different contexts never agree on a key.
- ``client_identity`` / ``server_identity`` of ``None`` mean "the public key" (RFC 9807
  section 4); otherwise 1..65535 bytes. They are bound into the envelope at registration, so a
  login must use the identities the registration used.
- ``ksf`` matters only on the client.
- ``pinned_server_public_key`` (optional, Coffer's addition): the client refuses a registration
  response or a login whose server public key differs (``InvalidLogin``).
"""

from __future__ import annotations

from dataclasses import dataclass

from coffer.opaque.errors import MisuseError
from coffer.opaque.ksf import KSF

COFFER_CONTEXT = b"coffer-vault/v1"
_MAX_FIELD = 0xFFFF


def _check_identity(name: str, value: object) -> None:
    if value is None:
        return
    if not isinstance(value, bytes) or not 1 <= len(value) <= _MAX_FIELD:
        raise MisuseError(f"Config.{name} must be None or 1..65535 bytes")


@dataclass(frozen=True)
class Config:
    """Context string, KSF and optional identities of one OPAQUE deployment."""

    context: bytes
    ksf: KSF
    client_identity: bytes | None = None
    server_identity: bytes | None = None
    pinned_server_public_key: bytes | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.context, bytes) or len(self.context) > _MAX_FIELD:
            raise MisuseError("Config.context must be at most 65535 bytes")
        if not isinstance(self.ksf, KSF):
            raise MisuseError("Config.ksf must be a KSF")
        _check_identity("client_identity", self.client_identity)
        _check_identity("server_identity", self.server_identity)
        pin = self.pinned_server_public_key
        if pin is not None and (not isinstance(pin, bytes) or len(pin) != 32):
            raise MisuseError("Config.pinned_server_public_key must be None or 32 bytes")
