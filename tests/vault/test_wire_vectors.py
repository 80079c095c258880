"""``coffer.vault`` against tests/vectors/vault-wire-v1.json, which the generator
(scripts/gen_vault_wire_vectors.py) computes from docs/vault-api.md with `cryptography`, `hmac`
and libsodium directly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from coffer.opaque import (
    KSF_OPAQUE_KE_DEFAULT,
    Config,
    ServerSetup,
    client_login_finish,
    client_login_start,
    client_registration_finish,
    client_registration_start,
    server_login_start,
    server_registration_response,
)
from coffer.vault import _crypto, wire
from coffer.vault.client import VaultClient, _escrow_ad
from coffer.vault.settings import KSF_PROFILES

ROOT = Path(__file__).resolve().parents[2]
VECTORS = json.loads((ROOT / "tests" / "vectors" / "vault-wire-v1.json").read_text())
VAULT = VECTORS["vault"]
IN = {k: bytes.fromhex(v) if k not in ("account", "ksf") else v for k, v in VAULT["inputs"].items()}


def test_escrow_and_release_layers() -> None:
    k_escrow = _crypto.derive(IN["export_key"], _crypto.LABEL_ESCROW)
    assert k_escrow.hex() == VAULT["escrow_key"]
    assert _escrow_ad(IN["account"]).hex() == VAULT["escrow_ad"]
    sealed = _crypto.seal(k_escrow, IN["V"], _escrow_ad(IN["account"]), IN["escrow_nonce"])
    assert (
        sealed.hex() == VAULT["sealed_secret"]
        and wire.b64e(sealed) == VAULT["sealed_secret_b64url"]
    )
    k_release = _crypto.derive(IN["session_key"], _crypto.LABEL_RELEASE)
    assert k_release.hex() == VAULT["release_key"]
    ad = b"release" + IN["attempt_id"]
    assert ad.hex() == VAULT["release_ad"]
    released = _crypto.seal(k_release, sealed, ad, IN["release_nonce"])
    assert released.hex() == VAULT["released_secret"]
    assert (
        _crypto.open_sealed(
            k_escrow, _crypto.open_sealed(k_release, released, ad), _escrow_ad(IN["account"])
        )
        == IN["V"]
    )


def test_auth_macs_and_canonical_ksf() -> None:
    k_auth = _crypto.derive(IN["session_key"], _crypto.LABEL_AUTH)
    assert k_auth.hex() == VAULT["auth_key"]
    ksf_text = wire.ksf_canonical(wire.ksf_from_json(IN["ksf"]))
    assert ksf_text == VAULT["canonical_ksf"]
    sealed = bytes.fromhex(VAULT["sealed_secret"])
    parts = {
        "change": (b"change", IN["attempt_id"], IN["registration_request"]),
        "commit": (b"commit", IN["grant_id"], IN["record"], sealed, ksf_text.encode()),
        "delete": (b"delete", IN["attempt_id"]),
    }
    for name, p in parts.items():
        assert wire.b64e(_crypto.mac(k_auth, *p)) == VAULT["auth"][name], name
        assert _crypto.mac_ok(k_auth, wire.b64d(VAULT["auth"][name]), *p)
    for name, text in VECTORS["canonical_ksf"].items():
        assert wire.ksf_canonical(KSF_PROFILES[name]) == text


def test_fingerprint() -> None:
    assert _crypto.fingerprint(IN["public_key"]) == VAULT["fingerprint"]


def test_opaque_transcript_with_the_vault_configuration() -> None:
    o = VECTORS["opaque"]
    draws = iter(
        bytes.fromhex(o["random_inputs"][k])
        for k in (
            "oprf_seed",
            "server_keypair_seed",
            "blind_registration",
            "envelope_nonce",
            "blind_login",
            "client_nonce",
            "client_keyshare_seed",
            "masking_nonce",
            "server_nonce",
            "server_keyshare_seed",
        )
    )

    def rng(n: int) -> bytes:
        out = next(draws)
        assert len(out) == n
        return out

    config = Config(context=o["config"]["context"].encode(), ksf=KSF_OPAQUE_KE_DEFAULT)
    assert wire.ksf_to_json(KSF_OPAQUE_KE_DEFAULT) == o["config"]["ksf"]
    password = o["password"].encode()
    cred = wire.credential_identifier("alice@example.net", bytes(16))
    assert cred.hex() == o["credential_identifier"]
    setup = ServerSetup.generate(rng)
    assert setup.public_key.hex() == o["server_public_key"]
    state, request = client_registration_start(password, rng=rng)
    assert request.hex() == o["registration_request"]
    response = server_registration_response(setup, request, cred)
    assert response.hex() == o["registration_response"]
    record, export_key = client_registration_finish(state, response, config, rng=rng)
    assert record.hex() == o["record"] and export_key.hex() == o["export_key"]
    cstate, ke1 = client_login_start(password, rng=rng)
    _sstate, ke2 = server_login_start(setup, record, ke1, cred, config, rng=rng)
    assert ke1.hex() == o["ke1"] and ke2.hex() == o["ke2"]
    ke3, session_key, _ = client_login_finish(cstate, ke2, config)
    assert ke3.hex() == o["ke3"] and session_key.hex() == o["session_key"]


def test_generator_output_is_current() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_vault_wire_vectors.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_client_uses_these_recipes() -> None:
    """The escrow the real client uploads opens with the vector's recipe."""
    sealed = VaultClient._escrow(IN["export_key"], IN["account"], IN["V"])
    k_escrow = bytes.fromhex(VAULT["escrow_key"])
    assert _crypto.open_sealed(k_escrow, sealed, bytes.fromhex(VAULT["escrow_ad"])) == IN["V"]


def test_held_login_state_layout() -> None:
    """The vector's ``login_state`` opens with the vault's own code, and one the vault seals
    has the same layout (only the nonce differs)."""
    from types import SimpleNamespace

    from coffer.vault.protocol import VaultCore
    from coffer.vault.store import PendingRow

    h = VECTORS["held_login_state"]
    hin = h["inputs"]
    key = _crypto.derive(bytes.fromhex(hin["server_setup"]), _crypto.LABEL_HELD_STATE)
    assert key.hex() == h["held_state_key"]
    core = SimpleNamespace(_held_key=key)
    attempt_id, state = bytes.fromhex(hin["attempt_id"]), bytes.fromhex(hin["server_login_state"])
    body = {"login_state": h["login_state_b64url"]}
    opened = VaultCore._held(core, body, attempt_id)  # type: ignore[arg-type]
    pending = PendingRow(attempt_id, hin["account"], "login", hin["generation"], b"", 0.0)
    assert opened == (state, pending)
    mine = wire.b64d(VaultCore._hold(core, state, pending))  # type: ignore[arg-type]
    assert mine[:1] == b"\x01"
    assert _crypto.open_sealed(key, mine[1:], attempt_id).hex() == h["plaintext"]
