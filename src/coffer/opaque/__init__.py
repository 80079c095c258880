"""OPAQUE-3DH (RFC 9807) over ristretto255-SHA512: a sans-I/O core for the key vault and its
clients.

Rules:

- Pure functions and small single-use states: bytes in, bytes and state out. No sockets, no
  clock, no global RNG — every random value comes from the ``rng(n) -> bytes`` argument
  (default :func:`os.urandom`), so the RFC vectors can drive it.
- Suite: OPRF ristretto255-SHA512 (RFC 9497 mode 0x00), 3DH over ristretto255, HKDF-SHA512,
  HMAC-SHA512, SHA-512; KSF chosen per deployment (:mod:`coffer.opaque.ksf`). Group operations
  come from libsodium (``pysodium``); HKDF/HMAC from ``cryptography`` and the standard library.
- One error for everything a peer can cause in a login (:class:`InvalidLogin`), never saying
  which check failed; malformed bytes are :class:`EncodingError`; local misuse is
  :class:`MisuseError`. MACs are compared in constant time.
- Secrets never appear in ``repr``, logs or exception text. States and the server setup
  serialise to bytes that are themselves secret: seal them before storing.

Exception tree (under :class:`coffer.errors.CofferError`)::

    OpaqueError
    ├── InvalidLogin    wrong password, tampered KE2/KE3, bad MAC, pinned-key mismatch
    ├── EncodingError   wrong length, bad version byte, invalid group element in a request
    └── MisuseError     wrong state type, reused state, bad parameters, short RNG output

Theory of operation (the vault's view)::

    client                               vault (ServerSetup: oprf_seed, sk, pk)
    client_registration_start(pw)   req  -> server_registration_response(setup, req, id)
    client_registration_finish(...) <- resp
                                    record -> server_registration_finish(record); store it
    client_login_start(pw)          KE1  -> server_login_start(setup, record|None, KE1, id, cfg)
                                           (store ServerLoginState.to_bytes() sealed)
    client_login_finish(st, KE2, cfg) <- KE2
                                    KE3  -> server_login_finish(state, KE3) -> session_key

``export_key`` (client only) is stable across logins of one registration; ``session_key`` is
fresh per login and equal on both sides.
"""

from __future__ import annotations

from coffer.opaque.config import COFFER_CONTEXT, Config
from coffer.opaque.errors import EncodingError, InvalidLogin, MisuseError, OpaqueError
from coffer.opaque.ksf import (
    KSF,
    KSF_MOBILE,
    KSF_OPAQUE_KE_DEFAULT,
    KSF_RFC_RECOMMENDED,
    Argon2idKSF,
    IdentityKSF,
)
from coffer.opaque.login import (
    check_ke1,
    client_login_finish,
    client_login_start,
    server_login_finish,
    server_login_start,
)
from coffer.opaque.messages import (
    KE1_LEN,
    KE2_LEN,
    KE3_LEN,
    RECORD_LEN,
    REGISTRATION_REQUEST_LEN,
    REGISTRATION_RESPONSE_LEN,
)
from coffer.opaque.registration import (
    client_registration_finish,
    client_registration_start,
    server_registration_finish,
    server_registration_response,
)
from coffer.opaque.setup import ServerSetup
from coffer.opaque.states import ClientLoginState, ClientRegistrationState, ServerLoginState

__all__ = [
    "COFFER_CONTEXT",
    "KE1_LEN",
    "KE2_LEN",
    "KE3_LEN",
    "KSF",
    "KSF_MOBILE",
    "KSF_OPAQUE_KE_DEFAULT",
    "KSF_RFC_RECOMMENDED",
    "RECORD_LEN",
    "REGISTRATION_REQUEST_LEN",
    "REGISTRATION_RESPONSE_LEN",
    "Argon2idKSF",
    "ClientLoginState",
    "ClientRegistrationState",
    "Config",
    "EncodingError",
    "IdentityKSF",
    "InvalidLogin",
    "MisuseError",
    "OpaqueError",
    "ServerLoginState",
    "ServerSetup",
    "check_ke1",
    "client_login_finish",
    "client_login_start",
    "client_registration_finish",
    "client_registration_start",
    "server_login_finish",
    "server_login_start",
    "server_registration_finish",
    "server_registration_response",
]
