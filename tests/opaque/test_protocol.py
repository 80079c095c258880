"""Two peers in memory: registration and login, identities, context, pinning, fake records,
state serialisation and single use, setup blobs, redacted reprs, error classes."""

from __future__ import annotations

import dataclasses

import pytest

from coffer.errors import CofferError
from coffer.opaque import (
    COFFER_CONTEXT,
    KE1_LEN,
    KE2_LEN,
    KE3_LEN,
    RECORD_LEN,
    Argon2idKSF,
    ClientLoginState,
    ClientRegistrationState,
    Config,
    EncodingError,
    IdentityKSF,
    InvalidLogin,
    MisuseError,
    OpaqueError,
    ServerLoginState,
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

from ._support import QUICK, login, login_to_ke2, register

PASSWORD = b"correct horse battery staple"


@pytest.fixture(scope="module")
def setup() -> ServerSetup:
    return ServerSetup.generate()


@pytest.fixture(scope="module")
def registered(setup: ServerSetup) -> tuple[bytes, bytes]:
    return register(setup, PASSWORD)


def test_sizes_and_round_trip(setup: ServerSetup, registered: tuple[bytes, bytes]) -> None:
    record, export_key = registered
    assert (RECORD_LEN, KE1_LEN, KE2_LEN, KE3_LEN) == (192, 96, 320, 64)
    assert len(record) == RECORD_LEN and len(export_key) == 64
    ke3, session_key, login_export, sstate = login(setup, record, PASSWORD)
    assert len(ke3) == KE3_LEN
    assert login_export == export_key
    assert server_login_finish(sstate, ke3) == session_key


def test_session_keys_are_fresh(setup: ServerSetup, registered: tuple[bytes, bytes]) -> None:
    record, _ = registered
    first = login(setup, record, PASSWORD)[1]
    second = login(setup, record, PASSWORD)[1]
    assert first != second


def test_wrong_password_fails_at_client(
    setup: ServerSetup, registered: tuple[bytes, bytes]
) -> None:
    record, _ = registered
    cstate, _, ke2 = login_to_ke2(setup, record, b"wrong password")
    with pytest.raises(InvalidLogin) as info:
        client_login_finish(cstate, ke2, QUICK)
    assert str(info.value) == "login failed"


def test_wrong_ke3_fails_at_server(setup: ServerSetup, registered: tuple[bytes, bytes]) -> None:
    record, _ = registered
    _, sstate, _ = login_to_ke2(setup, record, PASSWORD)
    with pytest.raises(InvalidLogin):
        server_login_finish(sstate, bytes(KE3_LEN))


def test_other_account_record_fails(setup: ServerSetup, registered: tuple[bytes, bytes]) -> None:
    """The OPRF key depends on the credential identifier."""
    record, _ = registered
    cstate, _, ke2 = login_to_ke2(setup, record, PASSWORD, ident=b"bob")
    with pytest.raises(InvalidLogin):
        client_login_finish(cstate, ke2, QUICK)


def test_context_mismatch_fails(setup: ServerSetup, registered: tuple[bytes, bytes]) -> None:
    record, _ = registered
    server_config = dataclasses.replace(QUICK, context=COFFER_CONTEXT)
    cstate, _, ke2 = login_to_ke2(setup, record, PASSWORD, server_config=server_config)
    with pytest.raises(InvalidLogin):
        client_login_finish(cstate, ke2, QUICK)


def test_identities_are_bound(setup: ServerSetup) -> None:
    config = dataclasses.replace(QUICK, client_identity=b"alice", server_identity=b"vault")
    record, export_key = register(setup, PASSWORD, config=config)
    cstate, sstate, ke2 = login_to_ke2(setup, record, PASSWORD, server_config=config)
    ke3, session_key, login_export = client_login_finish(cstate, ke2, config)
    assert login_export == export_key
    assert server_login_finish(sstate, ke3) == session_key
    for other in (QUICK, dataclasses.replace(config, server_identity=b"evil")):
        cstate, _, ke2 = login_to_ke2(setup, record, PASSWORD, server_config=other)
        with pytest.raises(InvalidLogin):
            client_login_finish(cstate, ke2, config)


def test_pinned_server_key(setup: ServerSetup, registered: tuple[bytes, bytes]) -> None:
    record, _ = registered
    pinned = dataclasses.replace(QUICK, pinned_server_public_key=setup.public_key)
    cstate, sstate, ke2 = login_to_ke2(setup, record, PASSWORD)
    ke3, key, _ = client_login_finish(cstate, ke2, pinned)
    assert server_login_finish(sstate, ke3) == key
    wrong = dataclasses.replace(QUICK, pinned_server_public_key=ServerSetup.generate().public_key)
    cstate, _, ke2 = login_to_ke2(setup, record, PASSWORD)
    with pytest.raises(InvalidLogin):
        client_login_finish(cstate, ke2, wrong)
    state, request = client_registration_start(PASSWORD)
    response = server_registration_response(setup, request, b"carol")
    with pytest.raises(InvalidLogin):
        client_registration_finish(state, response, wrong)


def test_fake_record_response(setup: ServerSetup) -> None:
    cstate, sstate, ke2 = login_to_ke2(setup, None, PASSWORD, ident=b"nobody")
    assert len(ke2) == KE2_LEN
    assert isinstance(sstate, ServerLoginState)
    with pytest.raises(InvalidLogin):
        client_login_finish(cstate, ke2, QUICK)
    # The fake record is fixed per setup (created once, as RFC 9807 recommends) ...
    assert setup.fake_record == ServerSetup.from_bytes(setup.to_bytes()).fake_record
    # ... yet two fake KE2s share no bytes beyond the deterministic OPRF evaluation.
    _, _, ke2_again = login_to_ke2(setup, None, PASSWORD, ident=b"nobody")
    assert ke2[32:] != ke2_again[32:]


def test_states_serialise(setup: ServerSetup, registered: tuple[bytes, bytes]) -> None:
    record, export_key = registered
    reg_state, request = client_registration_start(PASSWORD)
    reg_state = ClientRegistrationState.from_bytes(reg_state.to_bytes())
    response = server_registration_response(setup, request, b"dave")
    new_record, new_export = client_registration_finish(reg_state, response, QUICK)
    assert len(new_record) == RECORD_LEN and new_export != export_key

    cstate, ke1 = client_login_start(PASSWORD)
    sstate, ke2 = server_login_start(setup, record, ke1, b"alice", QUICK)
    cstate = ClientLoginState.from_bytes(cstate.to_bytes())
    sstate = ServerLoginState.from_bytes(sstate.to_bytes())
    ke3, key, login_export = client_login_finish(cstate, ke2, QUICK)
    assert login_export == export_key
    assert server_login_finish(sstate, ke3) == key


def test_states_are_single_use(setup: ServerSetup, registered: tuple[bytes, bytes]) -> None:
    record, _ = registered
    cstate, sstate, ke2 = login_to_ke2(setup, record, PASSWORD)
    ke3, _, _ = client_login_finish(cstate, ke2, QUICK)
    with pytest.raises(MisuseError):
        client_login_finish(cstate, ke2, QUICK)
    with pytest.raises(InvalidLogin):
        server_login_finish(sstate, bytes(KE3_LEN))
    with pytest.raises(MisuseError):  # a failed attempt consumed the state too
        server_login_finish(sstate, ke3)


def test_wrong_state_type_is_misuse(setup: ServerSetup, registered: tuple[bytes, bytes]) -> None:
    record, _ = registered
    reg_state, _ = client_registration_start(PASSWORD)
    cstate, _, ke2 = login_to_ke2(setup, record, PASSWORD)
    with pytest.raises(MisuseError):
        client_login_finish(reg_state, ke2, QUICK)  # type: ignore[arg-type]
    with pytest.raises(MisuseError):
        client_registration_finish(cstate, bytes(64), QUICK)  # type: ignore[arg-type]
    with pytest.raises(MisuseError):
        server_login_finish(cstate, bytes(64))  # type: ignore[arg-type]
    with pytest.raises(MisuseError):
        client_login_start("text password")  # type: ignore[arg-type]
    with pytest.raises(MisuseError):
        client_login_start(PASSWORD, rng=lambda n: bytes(n - 1))


@pytest.mark.parametrize(
    "cls", [ClientRegistrationState, ClientLoginState, ServerLoginState, ServerSetup]
)
def test_malformed_blobs_are_encoding_errors(cls: type) -> None:
    for blob in (b"", b"\x01", bytes(200), b"\x02" + bytes(199)):
        with pytest.raises(EncodingError):
            cls.from_bytes(blob)


def test_setup_blob(setup: ServerSetup) -> None:
    blob = setup.to_bytes()
    assert len(blob) == 130 and blob[:2] == b"\x01\x01"
    again = ServerSetup.from_bytes(blob)
    assert again.public_key == setup.public_key and again.to_bytes() == blob
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(EncodingError):
        ServerSetup.from_bytes(tampered)


def test_reprs_hide_secrets(setup: ServerSetup, registered: tuple[bytes, bytes]) -> None:
    record, _ = registered
    reg_state, _ = client_registration_start(PASSWORD)
    cstate, sstate, _ = login_to_ke2(setup, record, PASSWORD)
    for obj in (reg_state, cstate, sstate):
        text = repr(obj)
        assert "redacted" in text
        for secret in (PASSWORD, getattr(obj, "blind", b"x" * 32), sstate.session_key):
            assert secret.hex() not in text and repr(secret) not in text
    text = repr(setup)
    assert setup.oprf_seed.hex() not in text and setup.private_key.hex() not in text
    assert "Setup" in repr(setup) and setup.public_key.hex() in text
    assert repr(setup.fake_record).startswith("<")  # dataclass repr disabled


def test_error_tree() -> None:
    for cls in (InvalidLogin, EncodingError, MisuseError):
        assert issubclass(cls, OpaqueError) and issubclass(cls, CofferError)
    assert not issubclass(EncodingError, InvalidLogin)
    assert InvalidLogin.exit_code == 11


def test_config_validation() -> None:
    with pytest.raises(MisuseError):
        Config(context=b"x", ksf=IdentityKSF(), client_identity=b"")
    with pytest.raises(MisuseError):
        Config(context="text", ksf=IdentityKSF())  # type: ignore[arg-type]
    with pytest.raises(MisuseError):
        Config(context=b"x", ksf=None)  # type: ignore[arg-type]
    with pytest.raises(MisuseError):
        Config(context=b"x", ksf=IdentityKSF(), pinned_server_public_key=b"short")
    with pytest.raises(MisuseError):
        Argon2idKSF(memory_kib=8, iterations=1, parallelism=4)
    with pytest.raises(MisuseError):
        Argon2idKSF(memory_kib=64, iterations=0, parallelism=1)


def test_argon2id_ksf_round_trip(setup: ServerSetup) -> None:
    """A small Argon2id profile end to end; a different profile is a different password."""
    small = dataclasses.replace(QUICK, ksf=Argon2idKSF(memory_kib=256, iterations=1, parallelism=2))
    record, export_key = register(setup, PASSWORD, ident=b"erin", config=small)
    cstate, sstate, ke2 = login_to_ke2(setup, record, PASSWORD, ident=b"erin")
    ke3, key, login_export = client_login_finish(cstate, ke2, small)
    assert login_export == export_key and server_login_finish(sstate, ke3) == key
    cstate, _, ke2 = login_to_ke2(setup, record, PASSWORD, ident=b"erin")
    with pytest.raises(InvalidLogin):
        client_login_finish(cstate, ke2, QUICK)


def test_invalid_elements_in_requests_are_encoding_errors(
    setup: ServerSetup, registered: tuple[bytes, bytes]
) -> None:
    record, _ = registered
    identity, not_a_point = bytes(32), b"\xff" * 32
    _, ke1 = client_login_start(PASSWORD)
    for bad in (identity, not_a_point):
        with pytest.raises(EncodingError):
            server_registration_response(setup, bad, b"alice")
        with pytest.raises(EncodingError):
            server_registration_finish(bad + record[32:])
        with pytest.raises(EncodingError):
            server_login_start(setup, bad + record[32:], ke1, b"alice", QUICK)
        for ke1_bad in (bad + ke1[32:], ke1[:64] + bad):
            with pytest.raises(EncodingError):
                server_login_start(setup, record, ke1_bad, b"alice", QUICK)
        state, request = client_registration_start(PASSWORD)
        response = server_registration_response(setup, request, b"alice")
        with pytest.raises(EncodingError):
            client_registration_finish(state, response[:32] + bad, QUICK)
    with pytest.raises(EncodingError):
        server_login_start(setup, record, ke1[:-1], b"alice", QUICK)
