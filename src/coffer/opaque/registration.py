"""OPAQUE registration (RFC 9807 section 5): request, response, record.

Rules:

- Sans-I/O: bytes in, bytes and state out; randomness only from the injected ``rng``.
- Server side: a request or record whose element does not decode raises ``EncodingError``
  (nothing secret depends on that check).
- Client side: a response whose elements do not decode raises ``EncodingError``; a server key
  that differs from ``config.pinned_server_public_key`` raises ``InvalidLogin``.
- RNG draws, in order: client start — blind; client finish — envelope nonce.

Theory: the client blinds ``H(password)``; the server multiplies by its per-account OPRF key
``k = DeriveKeyPair(Expand(oprf_seed, credential_identifier || "OprfKey", 32),
"OPAQUE-DeriveKeyPair")``; the client unblinds, stretches, and seals its credentials into the
envelope. The record (client public key, masking key, envelope) is what the vault stores.
"""

from __future__ import annotations

import os

from coffer.opaque import _envelope, _group, _kdf, _oprf, _trace
from coffer.opaque._group import GroupError, Rng
from coffer.opaque.config import Config
from coffer.opaque.errors import EncodingError, InvalidLogin, MisuseError
from coffer.opaque.messages import (
    NN,
    NOK,
    Record,
    parse_registration_request,
    parse_registration_response,
)
from coffer.opaque.setup import ServerSetup, draw
from coffer.opaque.states import ClientRegistrationState

OPRF_KEY_INFO = b"OPAQUE-DeriveKeyPair"


def check_password(password: object) -> bytes:
    if not isinstance(password, bytes):
        raise MisuseError("password must be bytes")
    return password


def check_identifier(credential_identifier: object) -> bytes:
    if not isinstance(credential_identifier, bytes):
        raise MisuseError("credential_identifier must be bytes")
    return credential_identifier


def check_setup(setup: object) -> ServerSetup:
    if not isinstance(setup, ServerSetup):
        raise MisuseError("setup must be a ServerSetup")
    return setup


def oprf_key(setup: ServerSetup, credential_identifier: bytes) -> bytes:
    """The per-account OPRF key (RFC 9807 CreateRegistrationResponse)."""
    seed = _kdf.expand(setup.oprf_seed, credential_identifier + b"OprfKey", NOK)
    key = _oprf.derive_private_key(seed, OPRF_KEY_INFO)
    _trace.note("oprf_key", key)
    return key


def decode_element(data: bytes, what: str) -> bytes:
    """Deserialize a group element from a message; failure is an ``EncodingError``."""
    try:
        return _group.deserialize_element(data)
    except GroupError:
        raise EncodingError(f"{what} is not a valid ristretto255 element") from None


def blind_password(password: bytes, rng: Rng) -> tuple[bytes, bytes]:
    """OPRF Blind with a checked RNG; a password hashing to the identity is misuse."""
    try:
        return _oprf.blind(password, lambda n: draw(rng, n))
    except GroupError:
        raise MisuseError("this password cannot be used (hashes to the identity)") from None


def client_registration_start(
    password: bytes, *, rng: Rng = os.urandom
) -> tuple[ClientRegistrationState, bytes]:
    """Blind the password: ``(state, registration_request)``."""
    blind, blinded = blind_password(check_password(password), rng)
    return ClientRegistrationState(password, blind), blinded


def server_registration_response(
    setup: ServerSetup, request: bytes, credential_identifier: bytes
) -> bytes:
    """Evaluate the blinded password under the account's OPRF key; returns the response."""
    setup = check_setup(setup)
    blinded = decode_element(parse_registration_request(request), "registration request")
    key = oprf_key(setup, check_identifier(credential_identifier))
    return _oprf.blind_evaluate(key, blinded) + setup.public_key


def client_registration_finish(
    state: ClientRegistrationState, response: bytes, config: Config, *, rng: Rng = os.urandom
) -> tuple[bytes, bytes]:
    """Unblind, stretch and build the envelope: ``(record, export_key)``."""
    if not isinstance(state, ClientRegistrationState):
        raise MisuseError("state must be a ClientRegistrationState")
    if not isinstance(config, Config):
        raise MisuseError("config must be a Config")
    state._consume()
    evaluated_raw, server_pk_raw = parse_registration_response(response)
    evaluated = decode_element(evaluated_raw, "evaluated element")
    server_public_key = decode_element(server_pk_raw, "server public key")
    pin = config.pinned_server_public_key
    if pin is not None and not _kdf.ct_equal(pin, server_public_key):
        raise InvalidLogin("registration failed")
    oprf_output = _oprf.finalize(state.password, state.blind, evaluated)
    rwd = _envelope.randomized_password(oprf_output, config.ksf)
    ids = (config.server_identity, config.client_identity)
    envelope, keys = _envelope.store(rwd, draw(rng, NN), server_public_key, ids)
    record = Record(keys.client_public_key, _envelope.masking_key(rwd), envelope)
    return record.to_bytes(), keys.export_key


def server_registration_finish(record: bytes) -> bytes:
    """Validate an uploaded record (length, client public key) before storing it."""
    parsed = Record.parse(record)
    decode_element(parsed.client_public_key, "client public key")
    return parsed.to_bytes()
