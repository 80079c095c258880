"""The HTTP layer: status codes, caps, rate limits, the OpenAPI document, single-use KE3s."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from coffer.opaque import Config, client_login_finish, client_login_start
from coffer.vault import _crypto, openapi, wire
from coffer.vault.app import MAX_BODY, HttpSettings, create_app
from coffer.vault.client import VaultClient
from coffer.vault.protocol import CONTEXT, VaultCore
from coffer.vault.ratelimit import Limit, RateLimiter

from .vault_helpers import FAST_KSF

PW = b"pw for http tests"
V = os.urandom(32)
DOC = Path(__file__).resolve().parents[2] / "docs" / "vault-openapi.json"


def _ke2(http: TestClient, account: str, password: bytes) -> tuple[dict, bytes, bytes]:
    state, ke1 = client_login_start(password)
    r = http.post("/v1/recover/start", json={"account": account, "ke1": wire.b64e(ke1)})
    assert r.status_code == 200
    body = r.json()
    ke3, session, _ = client_login_finish(
        state, wire.b64d(body["ke2"]), Config(context=CONTEXT, ksf=FAST_KSF)
    )
    return body, ke3, session


def test_info_and_openapi(http: TestClient, core: VaultCore) -> None:
    info = http.get("/v1/info").json()
    assert wire.b64d(info["public_key"]) == core.setup.public_key
    assert info["fingerprint"] == _crypto.fingerprint(core.setup.public_key)
    assert info["max_attempts"] == 10 and info["suite"] == "OPAQUE-3DH ristretto255-SHA512"
    served = http.get("/v1/openapi.json").json()
    assert served == openapi.spec() == json.loads(DOC.read_text())


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        (b"not json", 400),
        (b"[1, 2]", 400),
        (b'{"account": "a b", "ke1": ""}', 400),
        (b'{"account": "alice", "ke1": "!!!"}', 400),
        (b'{"account": "alice", "ke1": "AAAA"}', 400),
        (b'{"account": "alice", "ke1": "' + b"A" * 128 + b'"}', 400),
        (b"{" + b" " * MAX_BODY + b"}", 413),
    ],
)
def test_malformed_requests(http: TestClient, payload: bytes, status: int) -> None:
    r = http.post(
        "/v1/recover/start", content=payload, headers={"content-type": "application/json"}
    )
    assert r.status_code == status
    assert r.json()["error"] in ("bad_request", "too_large")


def test_invalid_ke1_point_costs_no_attempt(http: TestClient, client: VaultClient) -> None:
    client.register("pat", PW, V, ksf=FAST_KSF)
    r = http.post("/v1/recover/start", json={"account": "pat", "ke1": wire.b64e(b"\xff" * 96)})
    assert r.status_code == 400
    assert client.attempts_left("pat") == 10


def test_ke3_is_single_use_and_tamper_counts(http: TestClient, client: VaultClient) -> None:
    client.register("kim", PW, V, ksf=FAST_KSF)
    body, ke3, _ = _ke2(http, "kim", PW)
    ok = http.post(
        "/v1/recover/finish", json={"attempt_id": body["attempt_id"], "ke3": wire.b64e(ke3)}
    )
    assert ok.status_code == 200
    replay = http.post(
        "/v1/recover/finish", json={"attempt_id": body["attempt_id"], "ke3": wire.b64e(ke3)}
    )
    assert replay.status_code == 410 and replay.json()["error"] == "attempt_expired"
    body, ke3, _ = _ke2(http, "kim", PW)
    bad = bytes([ke3[0] ^ 1]) + ke3[1:]
    r = http.post(
        "/v1/recover/finish", json={"attempt_id": body["attempt_id"], "ke3": wire.b64e(bad)}
    )
    assert r.status_code == 401 and r.json() == {
        "error": "login_failed",
        "message": "login failed",
        "attempts_left": 9,
    }


def test_captured_ke3_cannot_delete(http: TestClient, client: VaultClient) -> None:
    client.register("lee", PW, V, ksf=FAST_KSF)
    body, ke3, _session = _ke2(http, "lee", PW)
    forged = {"attempt_id": body["attempt_id"], "ke3": wire.b64e(ke3), "auth": wire.b64e(bytes(32))}
    assert http.post("/v1/account/delete", json=forged).status_code == 401
    assert client.recover("lee", PW) == V


def test_attempts_endpoint_validates(http: TestClient) -> None:
    assert http.get("/v1/attempts", params={"account": "x" * 200}).status_code == 400
    assert http.get("/v1/attempts").status_code == 400


def test_rate_limits_answer_429_with_retry_after(core: VaultCore) -> None:
    limits = HttpSettings(per_address=Limit(0, 0), per_account=Limit(rate=0.01, burst=3))
    with TestClient(create_app(core, limits)) as http:
        codes = [http.get("/v1/attempts", params={"account": "zed"}).status_code for _ in range(5)]
        assert codes == [200, 200, 200, 429, 429]
        r = http.get("/v1/attempts", params={"account": "zed"})
        assert r.json()["error"] == "rate_limited" and int(r.headers["retry-after"]) >= 1
        assert http.get("/v1/attempts", params={"account": "other"}).status_code == 200
    per_addr = HttpSettings(per_address=Limit(rate=0.01, burst=2), per_account=Limit(0, 0))
    with TestClient(create_app(core, per_addr)) as http:
        codes = [http.get("/v1/info").status_code for _ in range(3)]
        assert codes == [200, 200, 429]


def test_token_bucket_refills() -> None:
    now = [0.0]
    limiter = RateLimiter(Limit(rate=2.0, burst=2), clock=lambda: now[0])
    assert [limiter.take("k") for _ in range(3)] == [0, 0, 1]
    now[0] += 0.5
    assert limiter.take("k") == 0
    assert limiter.take("k") == 1


def test_store_outage_is_503(http: TestClient, core: VaultCore, tmp_path: Path) -> None:
    from coffer.vault.store_sqlite import SqliteStore

    (tmp_path / "blocker").write_text("a file where the database directory should be")
    broken = SqliteStore(tmp_path / "blocker" / "v.db")
    core.store = broken
    r = http.get("/v1/attempts", params={"account": "x"})
    assert r.status_code == 503 and r.json()["error"] == "unavailable"


def test_fake_ke2_has_the_shape_of_a_real_one(http: TestClient, client: VaultClient) -> None:
    client.register("real", PW, V, ksf=FAST_KSF)
    answers = []
    for account in ("real", "imaginary"):
        _, ke1 = client_login_start(b"guess")
        r = http.post("/v1/recover/start", json={"account": account, "ke1": wire.b64e(ke1)})
        answers.append(r.json())
    real, fake = answers
    assert set(real) == set(fake)
    assert len(wire.b64d(real["ke2"])) == len(wire.b64d(fake["ke2"])) == 320
    assert real["attempts_left"] == fake["attempts_left"] == 9
    assert real["ksf"] == wire.ksf_to_json(FAST_KSF)


def test_a_lying_vault_cannot_pass_the_pin(core: VaultCore, tmp_path: Path) -> None:
    """/v1/info comes from the genuine vault, everything else from an impostor with its own
    setup: the pin inside OPAQUE stops registration and login."""
    import httpx

    from coffer.vault.protocol import VaultCore as Core
    from coffer.vault.seal import KeyFileSealer
    from coffer.vault.server import init_vault, load_setup
    from coffer.vault.store_sqlite import SqliteStore

    from .vault_helpers import OPEN_LIMITS, SETTINGS

    store = SqliteStore(tmp_path / "impostor.db")
    sealer = KeyFileSealer.create(tmp_path / "impostor.key")
    init_vault(store, sealer)
    impostor = Core(load_setup(store, sealer), store, SETTINGS, clock=lambda: 1e9)
    genuine_http = TestClient(create_app(core, OPEN_LIMITS), base_url="http://v.test")
    impostor_http = TestClient(create_app(impostor, OPEN_LIMITS), base_url="http://v.test")

    class Splitter(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            peer = genuine_http if request.url.path == "/v1/info" else impostor_http
            r = peer.request(
                request.method,
                str(request.url),
                content=request.content,
                headers=dict(request.headers),
            )
            return httpx.Response(r.status_code, content=r.content, headers=r.headers)

    from coffer.vault.errors import VaultKeyMismatch

    lied_to = VaultClient("http://v.test", pinned_key=core.setup.public_key, transport=Splitter())
    with pytest.raises(VaultKeyMismatch):
        lied_to.register("victim", PW, V, ksf=FAST_KSF)
    VaultClient(
        "http://v.test", pinned_key=impostor.setup.public_key, transport=impostor_http
    ).register("victim", PW, V, ksf=FAST_KSF)
    from coffer.vault.errors import WrongPassword

    with pytest.raises(WrongPassword):  # KE2 made with another key fails the pinned check
        lied_to.recover("victim", PW)
