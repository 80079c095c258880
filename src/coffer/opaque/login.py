"""OPAQUE-3DH login (RFC 9807 section 6): KE1, KE2, KE3.

Rules:

- Sans-I/O: bytes in, bytes and state out; randomness only from the injected ``rng``.
- ``server_login_start`` with ``record=None`` answers with the setup's fake record (RFC 9807
  section 6.3.2.2) through the same code path as a real record, so the KE2 has the same length
  and structure and costs the same work.
- ``client_login_finish``: a KE2 of the wrong length raises ``EncodingError``; every other
  failure — undecodable element, envelope tag, server MAC, pinned key mismatch — raises one
  ``InvalidLogin`` that does not say which check failed.
- ``server_login_finish``: wrong length ``EncodingError``; wrong MAC ``InvalidLogin``.
- States are single-use; a finish function consumes its state before checking anything.
- RNG draws, in order: client start — blind, client nonce, client key-share seed; server start —
  masking nonce, server nonce, server key-share seed.
"""

from __future__ import annotations

import os

from coffer.opaque import _ake, _envelope, _kdf, _oprf
from coffer.opaque._envelope import Credentials, EnvelopeError, EnvelopeKeys
from coffer.opaque._group import GroupError, Rng, deserialize_element
from coffer.opaque.config import Config
from coffer.opaque.errors import InvalidLogin, MisuseError
from coffer.opaque.messages import KE1, KE2, NN, NSEED, Record, parse_ke3
from coffer.opaque.registration import (
    blind_password,
    check_identifier,
    check_password,
    check_setup,
    decode_element,
    oprf_key,
)
from coffer.opaque.setup import ServerSetup, derive_dh_key_pair, draw
from coffer.opaque.states import ClientLoginState, ServerLoginState


def _check_config(config: object) -> Config:
    if not isinstance(config, Config):
        raise MisuseError("config must be a Config")
    return config


def client_login_start(password: bytes, *, rng: Rng = os.urandom) -> tuple[ClientLoginState, bytes]:
    """Blind the password and make an ephemeral key share: ``(state, ke1)``."""
    blind, blinded = blind_password(check_password(password), rng)
    client_nonce = draw(rng, NN)
    client_secret, client_keyshare = derive_dh_key_pair(draw(rng, NSEED))
    ke1 = KE1(blinded, client_nonce, client_keyshare).to_bytes()
    return ClientLoginState(password, blind, client_secret, ke1), ke1


def _parse_record(record: bytes | None, setup_fake: Record) -> Record:
    # The fake record goes through the same validation as a stored one: same work either way.
    parsed = setup_fake if record is None else Record.parse(record)
    decode_element(parsed.client_public_key, "record client public key")
    return parsed


def _session(
    config: Config,
    creds: Credentials,
    ke1: bytes,
    auth: tuple[bytes, bytes, bytes],
    dh_pairs: tuple[tuple[bytes, bytes], ...],
) -> _ake.SessionKeys:
    """Preamble + 3DH + DeriveKeys; ``auth`` is (credential_response, server_nonce, keyshare)."""
    preamble = _ake.preamble(
        config.context, creds.client_identity, ke1, creds.server_identity, *auth
    )
    return _ake.derive_keys(_ake.triple_dh(dh_pairs), preamble)


def _credential_response(
    setup: ServerSetup, rec: Record, blinded: bytes, credential_identifier: bytes, rng: Rng
) -> bytes:
    """RFC 9807 CreateCredentialResponse (same path for real and fake records)."""
    key = oprf_key(setup, check_identifier(credential_identifier))
    evaluated = _oprf.blind_evaluate(key, blinded)
    masking_nonce = draw(rng, NN)
    masked = _envelope.mask(rec.masking_key, masking_nonce, setup.public_key + rec.envelope)
    return evaluated + masking_nonce + masked


def check_ke1(ke1: bytes) -> None:
    """Raise what ``server_login_start`` would raise for this KE1 (its length, its two
    elements), without answering it: a server can refuse a bad KE1 before it spends anything."""
    request = KE1.parse(ke1)
    decode_element(request.blinded_message, "KE1 blinded element")
    decode_element(request.client_keyshare, "KE1 key share")


def server_login_start(
    setup: ServerSetup,
    record: bytes | None,
    ke1: bytes,
    credential_identifier: bytes,
    config: Config,
    *,
    rng: Rng = os.urandom,
) -> tuple[ServerLoginState, bytes]:
    """Answer KE1 with KE2; ``record=None`` gives an indistinguishable fake response."""
    setup_, config = check_setup(setup), _check_config(config)
    request = KE1.parse(ke1)
    blinded = decode_element(request.blinded_message, "KE1 blinded element")
    client_keyshare = decode_element(request.client_keyshare, "KE1 key share")
    rec = _parse_record(record, setup_.fake_record)
    credential_response = _credential_response(setup_, rec, blinded, credential_identifier, rng)
    server_nonce = draw(rng, NN)
    server_secret, server_keyshare = derive_dh_key_pair(draw(rng, NSEED))
    creds = _envelope.cleartext_credentials(
        setup_.public_key, rec.client_public_key, config.server_identity, config.client_identity
    )
    keys = _session(
        config,
        creds,
        request.to_bytes(),
        (credential_response, server_nonce, server_keyshare),
        (
            (server_secret, client_keyshare),
            (setup_.private_key, client_keyshare),
            (server_secret, rec.client_public_key),
        ),
    )
    ke2 = credential_response + server_nonce + server_keyshare + keys.server_mac
    return ServerLoginState(keys.client_mac, keys.session_key), ke2


def _recover_credentials(
    state: ClientLoginState, ke2: KE2, config: Config
) -> tuple[bytes, EnvelopeKeys, Credentials]:
    """RFC 9807 RecoverCredentials plus the pin check: ``(server_pk, keys, credentials)``."""
    evaluated = deserialize_element(ke2.evaluated_message)
    oprf_output = _oprf.finalize(state.password, state.blind, evaluated)
    rwd = _envelope.randomized_password(oprf_output, config.ksf)
    masking_key = _envelope.masking_key(rwd)
    server_pk, envelope = _envelope.unmask(masking_key, ke2.masking_nonce, ke2.masked_response)
    ids = (config.server_identity, config.client_identity)
    env_keys, creds = _envelope.recover(rwd, server_pk, envelope, ids)
    pin = config.pinned_server_public_key
    if pin is not None and not _kdf.ct_equal(pin, server_pk):
        raise EnvelopeError("server key differs from the pinned key")
    return deserialize_element(server_pk), env_keys, creds


def _client_finish(state: ClientLoginState, ke2: KE2, config: Config) -> tuple[bytes, ...]:
    server_keyshare = deserialize_element(ke2.server_keyshare)
    server_pk, env_keys, creds = _recover_credentials(state, ke2, config)
    keys = _session(
        config,
        creds,
        state.ke1,
        (ke2.credential_response, ke2.server_nonce, server_keyshare),
        (
            (state.client_secret, server_keyshare),
            (state.client_secret, server_pk),
            (env_keys.client_private_key, server_keyshare),
        ),
    )
    if not _kdf.ct_equal(ke2.server_mac, keys.server_mac):
        raise EnvelopeError("server MAC mismatch")
    return keys.client_mac, keys.session_key, env_keys.export_key


def client_login_finish(
    state: ClientLoginState, ke2: bytes, config: Config
) -> tuple[bytes, bytes, bytes]:
    """Recover the credentials and authenticate the server: ``(ke3, session_key, export_key)``."""
    if not isinstance(state, ClientLoginState):
        raise MisuseError("state must be a ClientLoginState")
    config = _check_config(config)
    state._consume()
    parsed = KE2.parse(ke2)
    try:
        ke3, session_key, export_key = _client_finish(state, parsed, config)
    except (GroupError, EnvelopeError):
        raise InvalidLogin("login failed") from None
    return ke3, session_key, export_key


def server_login_finish(state: ServerLoginState, ke3: bytes) -> bytes:
    """Check the client's MAC; returns the session key only if it verifies."""
    if not isinstance(state, ServerLoginState):
        raise MisuseError("state must be a ServerLoginState")
    state._consume()
    client_mac = parse_ke3(ke3)
    if not _kdf.ct_equal(client_mac, state.expected_client_mac):
        raise InvalidLogin("login failed")
    return state.session_key
