"""Generate tests/vectors/vault-wire-v1.json: every value a vault client derives, for a second
implementation of docs/vault-api.md to check itself against.

The key-vault recipes here are written from the document with `cryptography`, `hmac` and
libsodium directly — not with ``coffer.vault`` — so ``tests/vault/test_wire_vectors.py``, which
checks ``coffer.vault`` against this file, compares two implementations of the text. The OPAQUE
section (a registration and a login with context "", default identities and opaque-ke's
Argon2id) comes from ``coffer.opaque`` driven by a fixed RNG; its interoperability with
opaque-ke 4 is tested in tests/opaque/test_interop.py and tests/vault/test_interop_opaque_ke.py.
Deterministic: re-running gives the same file.

Usage: .venv/bin/python scripts/gen_vault_wire_vectors.py [--check]
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sys
from pathlib import Path
from typing import Any

import pysodium
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

OUT = Path(__file__).resolve().parent.parent / "tests" / "vectors" / "vault-wire-v1.json"


def fixed(label: str, n: int) -> bytes:
    """Reproducible "random" bytes: SHA-512 counter mode over a label."""
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.sha512(b"coffer vault wire vector/" + label.encode() + bytes([i])).digest()
        i += 1
    return out[:n]


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hkdf(ikm: bytes, info: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt=None, info=info).derive(ikm)


def xchacha(key: bytes, nonce: bytes, plaintext: bytes, ad: bytes) -> bytes:
    return nonce + pysodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, ad, nonce, key)


def framed(*parts: bytes) -> bytes:
    return b"".join(len(p).to_bytes(4, "big") + p for p in parts)


def canonical(ksf: dict[str, Any]) -> str:
    return json.dumps(ksf, sort_keys=True, separators=(",", ":"))


KSF_OPAQUE_KE = {"alg": "argon2id", "memory_kib": 19456, "iterations": 2, "parallelism": 1}


def vault_section() -> dict[str, Any]:
    account = "alice@example.net"
    export_key, session_key = fixed("export_key", 64), fixed("session_key", 64)
    v = fixed("V", 32)
    attempt_id, grant_id = fixed("attempt_id", 16), fixed("grant_id", 16)
    registration_request, record = fixed("registration_request", 32), fixed("record", 192)
    n1, n2 = fixed("escrow nonce", 24), fixed("release nonce", 24)
    k_escrow = hkdf(export_key, b"coffer-vault/v1/escrow")
    escrow_ad = b"coffer-vault/v1/escrow/" + account.encode()
    sealed = xchacha(k_escrow, n1, v, escrow_ad)
    k_release = hkdf(session_key, b"coffer-vault/v1/release")
    release_ad = b"release" + attempt_id
    released = xchacha(k_release, n2, sealed, release_ad)
    k_auth = hkdf(session_key, b"coffer-vault/v1/auth")
    ksf_text = canonical(KSF_OPAQUE_KE).encode()
    macs = {
        "change": (b"change", attempt_id, registration_request),
        "commit": (b"commit", grant_id, record, sealed, ksf_text),
        "delete": (b"delete", attempt_id),
    }
    public_key = fixed("public_key", 32)
    digest = hashlib.sha256(b"coffer-vault/v1/fingerprint" + public_key).hexdigest()[:32]
    return {
        "inputs": {
            "account": account,
            "export_key": export_key.hex(),
            "session_key": session_key.hex(),
            "V": v.hex(),
            "attempt_id": attempt_id.hex(),
            "grant_id": grant_id.hex(),
            "registration_request": registration_request.hex(),
            "record": record.hex(),
            "escrow_nonce": n1.hex(),
            "release_nonce": n2.hex(),
            "ksf": KSF_OPAQUE_KE,
            "public_key": public_key.hex(),
        },
        "escrow_key": k_escrow.hex(),
        "escrow_ad": escrow_ad.hex(),
        "sealed_secret": sealed.hex(),
        "sealed_secret_b64url": b64e(sealed),
        "release_key": k_release.hex(),
        "release_ad": release_ad.hex(),
        "released_secret": released.hex(),
        "auth_key": k_auth.hex(),
        "canonical_ksf": ksf_text.decode(),
        "mac_inputs": {name: framed(*parts).hex() for name, parts in macs.items()},
        "auth": {
            name: b64e(hmac.new(k_auth, framed(*p), "sha256").digest()) for name, p in macs.items()
        },
        "fingerprint": ":".join(digest[i : i + 4] for i in range(0, 32, 4)),
    }


def ksf_section() -> dict[str, str]:
    profiles = {
        "memory-constrained": {
            "alg": "argon2id",
            "memory_kib": 65536,
            "iterations": 3,
            "parallelism": 4,
        },
        "rfc9106-recommended": {
            "alg": "argon2id",
            "memory_kib": 2097151,
            "iterations": 1,
            "parallelism": 4,
        },
        "opaque-ke-default": KSF_OPAQUE_KE,
        "mobile": {"alg": "argon2id", "memory_kib": 65536, "iterations": 3, "parallelism": 1},
    }
    return {name: canonical(ksf) for name, ksf in profiles.items()}


# the random values of RFC 9807 in the order coffer.opaque draws them (RFC 9807 Appendix C names)
DRAWS = (
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


def opaque_section() -> dict[str, Any]:
    """One registration and one login with the vault's OPAQUE configuration."""
    from coffer.opaque import (
        KSF_OPAQUE_KE_DEFAULT,
        Config,
        ServerSetup,
        client_login_finish,
        client_login_start,
        client_registration_finish,
        client_registration_start,
        server_login_finish,
        server_login_start,
        server_registration_response,
    )

    names = iter(DRAWS)
    draws: dict[str, str] = {}

    def rng(n: int) -> bytes:
        name = next(names)  # every draw here is used as drawn (no scalar was rejected)
        out = fixed(f"opaque {name}", n)
        draws[name] = out.hex()
        return out

    config = Config(context=b"", ksf=KSF_OPAQUE_KE_DEFAULT)
    password = b"CorrectHorseBatteryStaple"
    cred = b"coffer-vault/v1/cred" + (17).to_bytes(2, "big") + b"alice@example.net" + bytes(16)
    setup = ServerSetup.generate(rng)
    state, request = client_registration_start(password, rng=rng)
    response = server_registration_response(setup, request, cred)
    record, export_key = client_registration_finish(state, response, config, rng=rng)
    cstate, ke1 = client_login_start(password, rng=rng)
    sstate, ke2 = server_login_start(setup, record, ke1, cred, config, rng=rng)
    ke3, session_key, login_export = client_login_finish(cstate, ke2, config)
    assert server_login_finish(sstate, ke3) == session_key and login_export == export_key
    assert set(draws) == set(DRAWS)
    return {
        "config": {
            "context": "",
            "identities": "public keys (RFC 9807 default)",
            "ksf": KSF_OPAQUE_KE,
        },
        "password": password.decode(),
        "credential_identifier": cred.hex(),
        "random_inputs": draws,
        "server_setup_oprf_seed": setup.to_bytes()[2:66].hex(),
        "server_private_key": setup.to_bytes()[66:98].hex(),
        "server_public_key": setup.public_key.hex(),
        "registration_request": request.hex(),
        "registration_response": response.hex(),
        "record": record.hex(),
        "export_key": export_key.hex(),
        "ke1": ke1.hex(),
        "ke2": ke2.hex(),
        "ke3": ke3.hex(),
        "session_key": session_key.hex(),
        "_setup": setup.to_bytes().hex(),
    }


def held_state_section(setup_blob: bytes) -> dict[str, Any]:
    """A client-held login state (``login_state``) as the vault makes it: only the vault opens
    it, so this is for a second vault implementation, not for clients."""
    account, generation = "alice@example.net", 3
    attempt_id, nonce = fixed("held attempt_id", 16), fixed("held nonce", 24)
    state = bytes((1, 2)) + fixed("held expected client mac", 64) + fixed("held session key", 64)
    k_held = hkdf(setup_blob, b"coffer-vault/v1/held-login-state")
    plain = generation.to_bytes(8, "big") + len(state).to_bytes(2, "big") + state
    plain += account.encode()
    token = b"\x01" + xchacha(k_held, nonce, plain, attempt_id)
    return {
        "inputs": {
            "server_setup": setup_blob.hex(),
            "account": account,
            "generation": generation,
            "attempt_id": attempt_id.hex(),
            "server_login_state": state.hex(),
            "nonce": nonce.hex(),
        },
        "held_state_key": k_held.hex(),
        "plaintext": plain.hex(),
        "login_state_b64url": b64e(token),
    }


def build() -> dict[str, Any]:
    opaque = opaque_section()
    return {
        "description": "Coffer key vault wire values (docs/vault-api.md, API v1); hex unless "
        "the name ends in _b64url. Generated by scripts/gen_vault_wire_vectors.py.",
        "vault": vault_section(),
        "canonical_ksf": ksf_section(),
        "opaque": opaque,
        "held_login_state": held_state_section(bytes.fromhex(opaque.pop("_setup"))),
    }


def main() -> int:
    text = json.dumps(build(), indent=2, sort_keys=True) + "\n"
    if "--check" in sys.argv:
        if OUT.read_text() != text:
            print(f"{OUT} is out of date: re-run {Path(__file__).name}")
            return 1
        print(f"{OUT.name} is current")
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
