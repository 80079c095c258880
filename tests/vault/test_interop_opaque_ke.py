"""A second client, written from docs/vault-api.md alone, with opaque-ke as its OPAQUE engine.

The client side here uses only what a Kotlin, Swift, TypeScript or Rust app would have: an
OPAQUE library (opaque-ke 4, through PyPI ``opaque-snake``, which fixes the context to empty,
the identities to the public keys and Argon2id to m=19456 KiB, t=2, p=1), an HTTP client, HKDF,
HMAC and XChaCha20-Poly1305 — nothing from ``coffer.vault``. The vault is a real node process
started with the stock CLI (``coffer vault init`` / ``serve``, default settings). It registers,
recovers V, spends exactly one guess on a wrong password, changes the password, and deletes the
account.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pysodium
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .vault_nodes import Node

snake = pytest.importorskip("opaque_snake", reason="opaque-snake (test extra) is not installed")

pytestmark = pytest.mark.integration

OPAQUE_KE_KSF = {"alg": "argon2id", "memory_kib": 19456, "iterations": 2, "parallelism": 1}
ACCOUNT = "interop@example.net"
PASSWORD, NEW_PASSWORD = "opaque-ke interop password", "a new opaque-ke password"
V = os.urandom(32)


# -- the recipes of docs/vault-api.md, "Derived keys and MACs" ------------------------------
def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hkdf32(ikm: bytes, label: str) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt=None, info=label.encode()).derive(ikm)


def seal(key: bytes, plaintext: bytes, ad: bytes) -> bytes:
    nonce = os.urandom(24)
    return nonce + pysodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, ad, nonce, key)


def unseal(key: bytes, sealed: bytes, ad: bytes) -> bytes:
    return pysodium.crypto_aead_xchacha20poly1305_ietf_decrypt(sealed[24:], ad, sealed[:24], key)


def auth(session_key: bytes, *parts: bytes) -> str:
    key = hkdf32(session_key, "coffer-vault/v1/auth")
    framed = b"".join(len(p).to_bytes(4, "big") + p for p in parts)
    return b64e(hmac.new(key, framed, hashlib.sha256).digest())


def escrow_seal(export_key: bytes, account: str, secret: bytes) -> bytes:
    ad = b"coffer-vault/v1/escrow/" + account.encode()
    return seal(hkdf32(export_key, "coffer-vault/v1/escrow"), secret, ad)


def open_released(session_key: bytes, export_key: bytes, attempt_id: bytes, blob: bytes) -> bytes:
    inner = unseal(hkdf32(session_key, "coffer-vault/v1/release"), blob, b"release" + attempt_id)
    ad = b"coffer-vault/v1/escrow/" + ACCOUNT.encode()
    return unseal(hkdf32(export_key, "coffer-vault/v1/escrow"), inner, ad)


def canonical_ksf(ksf: dict) -> bytes:
    return json.dumps(ksf, sort_keys=True, separators=(",", ":")).encode()


# -- the vault: a real node from the stock CLI -----------------------------------------------
@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("interop")
    db, key = folder / "vault.db", folder / "seal.key"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "coffer.cli.vault_cmd",
            "init",
            "--db",
            str(db),
            "--key-file",
            str(key),
        ],
        check=True,
        capture_output=True,
    )
    node = Node(str(db), key, log=folder / "node.log").wait_ready()
    yield node.url
    node.stop()


class Api:
    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=30)

    def get(self, path: str, **params: str) -> dict:
        r = self.http.get(path, params=params)
        assert r.headers["content-type"] == "application/json", r.text
        return r.json() | {"_status": r.status_code}

    def post(self, path: str, **fields: object) -> dict:
        body = {k: b64e(v) if isinstance(v, bytes) else v for k, v in fields.items()}
        r = self.http.post(path, json=body)
        return r.json() | {"_status": r.status_code}


def _login(api: Api, password: str, held: bool = False) -> tuple[dict, object | None]:
    """KE1 → KE2, then opaque-ke's finish: (KE2 answer, login result or None). ``held``: ask
    for the login state (``client_state``), which the login's end then sends back."""
    client = snake.OpaqueClient()
    ke1, state = client.start_login(password)
    extra = {"client_state": True} if held else {}
    start = api.post("/v1/recover/start", account=ACCOUNT, ke1=ke1.to_bytes(), **extra)
    assert start["_status"] == 200, start
    assert ("login_state" in start) == held
    assert start["ksf"] == OPAQUE_KE_KSF and len(b64d(start["ke2"])) == 320
    try:
        result = client.finish_login(
            snake.CredentialResponse.from_bytes(b64d(start["ke2"])), state, password
        )
    except snake.AuthenticationError:
        return start, None
    return start, result


def _register(api: Api, info: dict, password: str, registration: dict) -> tuple[bytes, bytes]:
    """opaque-ke's finish_registration on a registration response: (record, export key)."""
    client, state = registration["client"], registration["state"]
    response = snake.RegistrationResponse.from_bytes(b64d(registration["registration_response"]))
    result = client.finish_registration(response, state, password)
    # the deployment is bound by its public key: the one /v1/info gave (and the user pinned)
    assert result.server_s_pk == b64d(info["public_key"])
    return result.upload.to_bytes(), result.export_key


def test_stock_opaque_ke_client_uses_the_whole_api(vault: str) -> None:
    api = Api(vault)
    info = api.get("/v1/info")
    assert info["context"] == "" and info["identities"] == "public-keys"
    assert OPAQUE_KE_KSF in info["accepted_ksf"]

    # register
    client = snake.OpaqueClient()
    request, state = client.start_registration(PASSWORD)
    start = api.post("/v1/register/start", account=ACCOUNT, registration_request=request.to_bytes())
    assert start["_status"] == 200, start
    record, export_key = _register(api, info, PASSWORD, start | {"client": client, "state": state})
    done = api.post(
        "/v1/register/finish",
        account=ACCOUNT,
        registration_id=b64d(start["registration_id"]),
        record=record,
        sealed_secret=escrow_seal(export_key, ACCOUNT, V),
        ksf=OPAQUE_KE_KSF,
    )
    assert done == {"account": ACCOUNT, "attempts_left": 10, "_status": 200}

    # recover V; a KE3 of the wrong length is a 400 that leaves the attempt usable
    ke2, login = _login(api, PASSWORD)
    assert login is not None and ke2["attempts_left"] == 9
    attempt_id, ke3 = b64d(ke2["attempt_id"]), login.finalization.to_bytes()
    short = api.post("/v1/recover/finish", attempt_id=attempt_id, ke3=ke3[:63])
    assert short["_status"] == 400 and short["error"] == "bad_request"
    released = api.post("/v1/recover/finish", attempt_id=attempt_id, ke3=ke3)
    assert released["_status"] == 200 and released["attempts_left"] == 10
    keys = login.session_keys
    assert keys.export_key == export_key
    assert (
        open_released(keys.session_key, export_key, attempt_id, b64d(released["sealed_secret"]))
        == V
    )

    # a wrong password spends exactly one guess, and the vault says how many are left
    ke2, login = _login(api, "not the password")
    assert login is None and ke2["attempts_left"] == 9
    aborted = api.post("/v1/recover/abort", attempt_id=b64d(ke2["attempt_id"]))
    assert aborted == {"attempts_left": 9, "locked": False, "_status": 200}
    assert api.get("/v1/attempts", account=ACCOUNT)["attempts_left"] == 9

    # from here on the client holds the login state (client_state / login_state)
    # change the password: login with the old one, then a new registration under a grant
    ke2, login = _login(api, PASSWORD, held=True)
    assert login is not None
    attempt_id, session = b64d(ke2["attempt_id"]), login.session_keys.session_key
    new_client = snake.OpaqueClient()
    new_request, new_state = new_client.start_registration(NEW_PASSWORD)
    reg_request = new_request.to_bytes()
    grant = api.post(
        "/v1/password/change",
        attempt_id=attempt_id,
        ke3=login.finalization.to_bytes(),
        registration_request=reg_request,
        auth=auth(session, b"change", attempt_id, reg_request),
        login_state=ke2["login_state"],
    )
    assert grant["_status"] == 200, grant
    old_export = login.session_keys.export_key
    assert open_released(session, old_export, attempt_id, b64d(grant["sealed_secret"])) == V
    record, new_export = _register(
        api, info, NEW_PASSWORD, grant | {"client": new_client, "state": new_state}
    )
    grant_id, sealed = b64d(grant["grant_id"]), escrow_seal(new_export, ACCOUNT, V)
    committed = api.post(
        "/v1/password/commit",
        grant_id=grant_id,
        account=ACCOUNT,
        record=record,
        sealed_secret=sealed,
        ksf=OPAQUE_KE_KSF,
        auth=auth(session, b"commit", grant_id, record, sealed, canonical_ksf(OPAQUE_KE_KSF)),
    )
    assert committed == {"account": ACCOUNT, "attempts_left": 10, "_status": 200}
    ke2, login = _login(api, PASSWORD, held=True)
    assert login is None  # the old password is gone
    api.post("/v1/recover/abort", attempt_id=b64d(ke2["attempt_id"]))
    ke2, login = _login(api, NEW_PASSWORD, held=True)
    assert login is not None
    attempt_id = b64d(ke2["attempt_id"])
    ke3 = login.finalization.to_bytes()
    lost = api.post("/v1/recover/finish", attempt_id=attempt_id, ke3=ke3)
    assert lost["_status"] == 400 and "login_state" in lost["message"]  # and nothing consumed
    released = api.post(
        "/v1/recover/finish", attempt_id=attempt_id, ke3=ke3, login_state=ke2["login_state"]
    )
    assert released["_status"] == 200 and released["attempts_left"] == 10
    keys = login.session_keys
    assert (
        open_released(
            keys.session_key, keys.export_key, attempt_id, b64d(released["sealed_secret"])
        )
        == V
    )

    # delete the account
    ke2, login = _login(api, NEW_PASSWORD, held=True)
    assert login is not None
    attempt_id = b64d(ke2["attempt_id"])
    deleted = api.post(
        "/v1/account/delete",
        attempt_id=attempt_id,
        ke3=login.finalization.to_bytes(),
        auth=auth(login.session_keys.session_key, b"delete", attempt_id),
        login_state=ke2["login_state"],
    )
    assert deleted == {"deleted": True, "_status": 200}
    assert api.get("/v1/attempts", account=ACCOUNT) == {
        "account": ACCOUNT,
        "attempts_left": 10,
        "locked": False,
        "_status": 200,
    }


def test_no_coffer_vault_import_here() -> None:
    source = Path(__file__).read_text()
    assert "from coffer" + ".vault" not in source and "import coffer" + ".vault" not in source
