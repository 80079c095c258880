"""RFC 9807 Appendix C (ristretto255, real and fake) and RFC 9497 Appendix A (ristretto255-SHA512,
OPRF mode) vectors, driven through the public functions with a scripted RNG."""

from __future__ import annotations

import pytest

from coffer.opaque import (
    Config,
    IdentityKSF,
    ServerSetup,
    _group,
    _oprf,
    _trace,
    client_login_finish,
    client_login_start,
    client_registration_finish,
    client_registration_start,
    server_login_finish,
    server_login_start,
    server_registration_response,
)

from ._support import load, scripted

OPAQUE = load("opaque-rfc9807-ristretto255.json")
REAL = [v for v in OPAQUE if v["config"]["Fake"] == "False"]
FAKE = [v for v in OPAQUE if v["config"]["Fake"] == "True"]
OPRF_SUITE = load("voprf-rfc9497-ristretto255-sha512-oprf.json")[0]


def _hex(section: dict[str, str]) -> dict[str, bytes]:
    return {key: bytes.fromhex(value) for key, value in section.items()}


def _config(vector: dict, inputs: dict[str, bytes]) -> Config:
    assert vector["config"]["KSF"] == "Identity"
    return Config(
        context=bytes.fromhex(vector["config"]["Context"]),
        ksf=IdentityKSF(),
        client_identity=inputs.get("client_identity"),
        server_identity=inputs.get("server_identity"),
    )


def _setup(inputs: dict[str, bytes]) -> ServerSetup:
    setup = ServerSetup(inputs["oprf_seed"], inputs["server_private_key"])
    assert setup.public_key == inputs["server_public_key"]
    return setup


def test_suite_counts() -> None:
    assert len(REAL) == 2 and len(FAKE) == 1
    assert all(v["config"]["OPRF"] == "ristretto255-SHA512" for v in OPAQUE)
    assert all(v["config"]["Group"] == "ristretto255" for v in OPAQUE)


@pytest.mark.parametrize("vector", REAL, ids=["real-1", "real-2-identities"])
def test_real_vector(vector: dict) -> None:
    inputs, mids, outs = (_hex(vector[k]) for k in ("inputs", "intermediates", "outputs"))
    config, setup = _config(vector, inputs), _setup(inputs)
    ident, password = inputs["credential_identifier"], inputs["password"]

    with _trace.capture() as seen:
        state, request = client_registration_start(
            password, rng=scripted(inputs["blind_registration"])
        )
        assert request == outs["registration_request"]
        response = server_registration_response(setup, request, ident)
        assert response == outs["registration_response"]
        record, export_key = client_registration_finish(
            state, response, config, rng=scripted(inputs["envelope_nonce"])
        )
    assert record == outs["registration_upload"]
    assert export_key == outs["export_key"]
    for name in ("oprf_key", "randomized_password", "masking_key", "auth_key", "envelope"):
        assert seen[name] == mids[name], name
    assert record[:32] == mids["client_public_key"]

    client_rng = scripted(
        inputs["blind_login"], inputs["client_nonce"], inputs["client_keyshare_seed"]
    )
    cstate, ke1 = client_login_start(password, rng=client_rng)
    assert ke1 == outs["KE1"]
    server_rng = scripted(
        inputs["masking_nonce"], inputs["server_nonce"], inputs["server_keyshare_seed"]
    )
    with _trace.capture() as server_seen:
        sstate, ke2 = server_login_start(setup, record, ke1, ident, config, rng=server_rng)
    assert ke2 == outs["KE2"]
    with _trace.capture() as client_seen:
        ke3, session_key, login_export_key = client_login_finish(cstate, ke2, config)
    assert ke3 == outs["KE3"]
    assert session_key == outs["session_key"]
    assert login_export_key == outs["export_key"]
    for name in ("handshake_secret", "server_mac_key", "client_mac_key"):
        assert server_seen[name] == mids[name], name
        assert client_seen[name] == mids[name], name
    for name in ("randomized_password", "masking_key", "auth_key"):
        assert client_seen[name] == mids[name], name
    assert server_login_finish(sstate, ke3) == outs["session_key"]


@pytest.mark.parametrize("vector", FAKE, ids=["fake-1"])
def test_fake_vector(vector: dict) -> None:
    """The fake-record KE2: the RFC's fake record (random client key and masking key, zero
    envelope) run through the same server code path as a real record."""
    inputs, outs = _hex(vector["inputs"]), _hex(vector["outputs"])
    config, setup = _config(vector, inputs), _setup(inputs)
    client_sk, client_pk = inputs["client_private_key"], inputs["client_public_key"]
    assert _group.scalar_mult_base(client_sk) == client_pk
    fake_record = client_pk + inputs["masking_key"] + bytes(96)
    server_rng = scripted(
        inputs["masking_nonce"], inputs["server_nonce"], inputs["server_keyshare_seed"]
    )
    _, ke2 = server_login_start(
        setup, fake_record, inputs["KE1"], inputs["credential_identifier"], config, rng=server_rng
    )
    assert ke2 == outs["KE2"]


def test_oprf_derive_key_pair() -> None:
    sk, _ = _oprf.derive_key_pair(
        bytes.fromhex(OPRF_SUITE["seed"]), bytes.fromhex(OPRF_SUITE["keyInfo"])
    )
    assert sk.hex() == OPRF_SUITE["skSm"]
    assert OPRF_SUITE["mode"] == 0 and OPRF_SUITE["identifier"] == "ristretto255-SHA512"
    assert bytes.fromhex(OPRF_SUITE["groupDST"]) == _oprf.HASH_TO_GROUP_DST


@pytest.mark.parametrize("case", OPRF_SUITE["vectors"], ids=["input-00", "input-5a"])
def test_oprf_vector(case: dict[str, str]) -> None:
    assert case["Batch"] == 1
    c = {k: bytes.fromhex(v) for k, v in case.items() if k != "Batch"}
    sk = bytes.fromhex(OPRF_SUITE["skSm"])
    blind, blinded = _oprf.blind(c["Input"], scripted(c["Blind"]))
    assert blind == c["Blind"]
    assert blinded == c["BlindedElement"]
    evaluated = _oprf.blind_evaluate(sk, blinded)
    assert evaluated == c["EvaluationElement"]
    assert _oprf.finalize(c["Input"], blind, evaluated) == c["Output"]


def test_expand_message_xmd_rfc9380_sha512() -> None:
    """RFC 9380 Appendix K.3 (expand_message_xmd, SHA-512), the two short-output cases."""
    dst = b"QUUX-V01-CS02-with-expander-SHA512-256"
    assert _oprf.expand_message_xmd(b"", dst, 0x20).hex() == (
        "6b9a7312411d92f921c6f68ca0b6380730a1a4d982c507211a90964c394179ba"
    )
    assert _oprf.expand_message_xmd(b"abc", dst, 0x20).hex() == (
        "0da749f12fbe5483eb066a5f595055679b976e93abe9be6f0f6318bce7aca8dc"
    )
