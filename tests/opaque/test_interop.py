"""Interoperability with Meta's opaque-ke (through PyPI ``opaque-snake``): our client with their
server, their client with our server, and records and setups moved between the two.

opaque-snake's configuration (FACTS.md, checked here): ristretto255-SHA512, 3DH, Argon2id
m=19456 KiB t=2 p=1 with 16 zero bytes of salt, empty context, identities = public keys.
"""

from __future__ import annotations

import pytest

from coffer.opaque import (
    KSF_OPAQUE_KE_DEFAULT,
    Config,
    InvalidLogin,
    ServerSetup,
    client_login_finish,
    client_login_start,
    client_registration_finish,
    client_registration_start,
    server_login_finish,
    server_login_start,
    server_registration_finish,
    server_registration_response,
)

snake = pytest.importorskip("opaque_snake", reason="opaque-snake (test extra) is not installed")

CONFIG = Config(context=b"", ksf=KSF_OPAQUE_KE_DEFAULT)
PASSWORD = "correct horse battery staple"
USER = "alice@example.com"


def _our_client_register(server: object) -> tuple[object, bytes]:
    state, request = client_registration_start(PASSWORD.encode())
    response = server.create_registration_response(  # type: ignore[attr-defined]
        snake.RegistrationRequest.from_bytes(request), USER
    )
    record, export_key = client_registration_finish(state, response.to_bytes(), CONFIG)
    upload = snake.RegistrationUpload.from_bytes(record)
    return server.finish_registration(upload), export_key  # type: ignore[attr-defined]


def _their_client_register(setup: ServerSetup) -> tuple[bytes, bytes]:
    client = snake.OpaqueClient()
    request, state = client.start_registration(PASSWORD)
    response = server_registration_response(setup, request.to_bytes(), USER.encode())
    result = client.finish_registration(
        snake.RegistrationResponse.from_bytes(response), state, PASSWORD
    )
    assert result.server_s_pk == setup.public_key
    return server_registration_finish(result.upload.to_bytes()), result.export_key


def test_our_client_their_server() -> None:
    server = snake.OpaqueServer()
    password_file, export_key = _our_client_register(server)
    cstate, ke1 = client_login_start(PASSWORD.encode())
    response, sstate = server.create_credential_response(
        snake.CredentialRequest.from_bytes(ke1), USER, password_file
    )
    ke3, session_key, login_export = client_login_finish(cstate, response.to_bytes(), CONFIG)
    keys = server.finish_login(snake.CredentialFinalization.from_bytes(ke3), sstate)
    assert keys.session_key == session_key and len(session_key) == 64
    assert login_export == export_key


def test_our_client_their_server_wrong_password() -> None:
    server = snake.OpaqueServer()
    password_file, _ = _our_client_register(server)
    cstate, ke1 = client_login_start(b"not the password")
    response, sstate = server.create_credential_response(
        snake.CredentialRequest.from_bytes(ke1), USER, password_file
    )
    with pytest.raises(InvalidLogin):
        client_login_finish(cstate, response.to_bytes(), CONFIG)
    with pytest.raises(snake.OpaqueError):  # and their server refuses a forged KE3
        server.finish_login(snake.CredentialFinalization.from_bytes(bytes(64)), sstate)


def test_their_client_our_server() -> None:
    setup = ServerSetup.generate()
    record, export_key = _their_client_register(setup)
    client = snake.OpaqueClient()
    request, cstate = client.start_login(PASSWORD)
    sstate, ke2 = server_login_start(setup, record, request.to_bytes(), USER.encode(), CONFIG)
    result = client.finish_login(snake.CredentialResponse.from_bytes(ke2), cstate, PASSWORD)
    session_key = server_login_finish(sstate, result.finalization.to_bytes())
    assert result.session_keys.session_key == session_key
    assert result.session_keys.export_key == export_key


def test_their_client_our_server_wrong_password() -> None:
    setup = ServerSetup.generate()
    record, _ = _their_client_register(setup)
    client = snake.OpaqueClient()
    request, cstate = client.start_login("not the password")
    sstate, ke2 = server_login_start(setup, record, request.to_bytes(), USER.encode(), CONFIG)
    with pytest.raises(snake.AuthenticationError):
        client.finish_login(snake.CredentialResponse.from_bytes(ke2), cstate, PASSWORD + "!")
    with pytest.raises(InvalidLogin):  # and our server refuses a forged KE3
        server_login_finish(sstate, bytes(64))


def test_their_record_and_setup_in_our_server() -> None:
    """Register entirely in opaque-ke; log in entirely with our code using their setup blob and
    password file: byte-compatible records, OPRF keys and export keys."""
    server = snake.OpaqueServer()
    client = snake.OpaqueClient()
    request, state = client.start_registration(PASSWORD)
    response = server.create_registration_response(request, USER)
    result = client.finish_registration(response, state, PASSWORD)
    password_file = server.finish_registration(result.upload)

    setup = ServerSetup.from_opaque_ke_bytes(server.export_setup())
    assert setup.public_key == result.server_s_pk
    record = server_registration_finish(password_file.to_bytes())
    cstate, ke1 = client_login_start(PASSWORD.encode())
    sstate, ke2 = server_login_start(setup, record, ke1, USER.encode(), CONFIG)
    ke3, session_key, export_key = client_login_finish(cstate, ke2, CONFIG)
    assert export_key == result.export_key
    assert server_login_finish(sstate, ke3) == session_key


def test_ksf_must_match_theirs() -> None:
    """Control: the same flow with a different KSF fails, so the tests above do exercise
    Argon2id with opaque-ke's parameters."""
    import dataclasses

    from coffer.opaque import Argon2idKSF

    server = snake.OpaqueServer()
    password_file, _ = _our_client_register(server)
    other = dataclasses.replace(CONFIG, ksf=Argon2idKSF(19456, 2, 2))
    cstate, ke1 = client_login_start(PASSWORD.encode())
    response, _ = server.create_credential_response(
        snake.CredentialRequest.from_bytes(ke1), USER, password_file
    )
    with pytest.raises(InvalidLogin):
        client_login_finish(cstate, response.to_bytes(), other)
