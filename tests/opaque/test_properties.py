"""Property tests: tampering with KE2/KE3 always ends in InvalidLogin; arbitrary bytes as any
message or blob end in EncodingError (or InvalidLogin where a login check runs), never in
another exception; fake KE2s look like real ones."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coffer.opaque import (
    KE1_LEN,
    KE2_LEN,
    KE3_LEN,
    RECORD_LEN,
    ClientLoginState,
    ClientRegistrationState,
    EncodingError,
    InvalidLogin,
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
from coffer.opaque.messages import KE2

from ._support import QUICK, login_to_ke2, register

PASSWORD = b"hunter2 but longer"
SETUP = ServerSetup.generate()
RECORD, _ = register(SETUP, PASSWORD)
_CSTATE, _SSTATE, KE2_BYTES = login_to_ke2(SETUP, RECORD, PASSWORD)
CSTATE_BLOB, SSTATE_BLOB = _CSTATE.to_bytes(), _SSTATE.to_bytes()
KE3_BYTES, _, _ = client_login_finish(ClientLoginState.from_bytes(CSTATE_BLOB), KE2_BYTES, QUICK)
REG_STATE_BLOB = client_registration_start(PASSWORD)[0].to_bytes()

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def _sized(*lengths: int) -> st.SearchStrategy[bytes]:
    exact = [st.binary(min_size=n, max_size=n) for n in lengths]
    return st.one_of(st.binary(max_size=2 * max(lengths) + 8), *exact)


def test_untampered_baseline() -> None:
    ke3, key, _ = client_login_finish(ClientLoginState.from_bytes(CSTATE_BLOB), KE2_BYTES, QUICK)
    assert ke3 == KE3_BYTES
    assert server_login_finish(ServerLoginState.from_bytes(SSTATE_BLOB), ke3) == key


@FAST
@given(bit=st.integers(min_value=0, max_value=KE2_LEN * 8 - 1))
def test_any_ke2_bit_flip_is_invalid_login(bit: int) -> None:
    state = ClientLoginState.from_bytes(CSTATE_BLOB)
    with pytest.raises(InvalidLogin):
        client_login_finish(state, _flip(KE2_BYTES, bit), QUICK)


@FAST
@given(bit=st.integers(min_value=0, max_value=KE3_LEN * 8 - 1))
def test_any_ke3_bit_flip_is_invalid_login(bit: int) -> None:
    state = ServerLoginState.from_bytes(SSTATE_BLOB)
    with pytest.raises(InvalidLogin):
        server_login_finish(state, _flip(KE3_BYTES, bit))


def test_every_ke2_bit_flip_exhaustively() -> None:
    """All 2,560 single-bit changes of one KE2, not just a sample."""
    for bit in range(KE2_LEN * 8):
        with pytest.raises(InvalidLogin):
            client_login_finish(
                ClientLoginState.from_bytes(CSTATE_BLOB), _flip(KE2_BYTES, bit), QUICK
            )


def _only(call: Callable[[], object], *allowed: type[Exception]) -> None:
    try:
        call()
    except allowed:
        pass


@FAST
@given(data=_sized(KE2_LEN))
def test_random_ke2(data: bytes) -> None:
    state = ClientLoginState.from_bytes(CSTATE_BLOB)
    with pytest.raises((EncodingError, InvalidLogin)):
        client_login_finish(state, data, QUICK)


@FAST
@given(data=_sized(KE3_LEN))
def test_random_ke3(data: bytes) -> None:
    with pytest.raises((EncodingError, InvalidLogin)):
        server_login_finish(ServerLoginState.from_bytes(SSTATE_BLOB), data)


@FAST
@given(ke1=_sized(KE1_LEN), record=st.one_of(st.none(), _sized(RECORD_LEN)))
def test_random_ke1_and_record(ke1: bytes, record: bytes | None) -> None:
    _only(lambda: server_login_start(SETUP, record, ke1, b"alice", QUICK), EncodingError)


@FAST
@given(request=_sized(32), response=_sized(64), record=_sized(RECORD_LEN))
def test_random_registration_messages(request: bytes, response: bytes, record: bytes) -> None:
    _only(lambda: server_registration_response(SETUP, request, b"alice"), EncodingError)
    state = ClientRegistrationState.from_bytes(REG_STATE_BLOB)
    _only(lambda: client_registration_finish(state, response, QUICK), EncodingError)
    _only(lambda: server_registration_finish(record), EncodingError)


@FAST
@given(blob=st.binary(max_size=300))
def test_random_blobs(blob: bytes) -> None:
    for cls in (ClientRegistrationState, ClientLoginState, ServerLoginState, ServerSetup):
        _only(lambda cls=cls: cls.from_bytes(blob), EncodingError)
    for kind in (b"\x01\x11", b"\x01\x12", b"\x01\x13", b"\x01\x01"):
        for cls in (ClientRegistrationState, ClientLoginState, ServerLoginState, ServerSetup):
            _only(lambda cls=cls, kind=kind: cls.from_bytes(kind + blob), EncodingError)


def test_fake_ke2_has_real_structure() -> None:
    """Fake and real KE2s: same length; every element field decodes; the fields that hide
    secrets (masked response, MAC) are full-entropy bytes in both."""
    _, _, real = login_to_ke2(SETUP, RECORD, PASSWORD)
    _, _, fake = login_to_ke2(SETUP, None, PASSWORD, ident=b"nobody")
    assert len(real) == len(fake) == KE2_LEN
    from coffer.opaque._group import deserialize_element

    for ke2 in (KE2.parse(real), KE2.parse(fake)):
        deserialize_element(ke2.evaluated_message)
        deserialize_element(ke2.server_keyshare)
        assert len(set(ke2.masked_response)) > 64  # 128 random-looking bytes
        assert len(set(ke2.server_mac)) > 32
    # Same client, same unknown account twice: OPRF evaluation stable (as for a real account),
    # everything else fresh.
    state, ke1 = client_login_start(PASSWORD)
    first = server_login_start(SETUP, None, ke1, b"nobody", QUICK)[1]
    second = server_login_start(SETUP, None, ke1, b"nobody", QUICK)[1]
    assert first[:32] == second[:32] and first[32:] != second[32:]
    with pytest.raises(InvalidLogin):
        client_login_finish(state, first, QUICK)
