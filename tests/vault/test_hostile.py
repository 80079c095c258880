"""Hostile requests in process: forged X-Forwarded-For, odd bodies, unknown paths, shared rate
limits (the same checks against real node processes are in test_node.py)."""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient

from coffer.opaque import Config, client_login_finish, client_login_start
from coffer.vault import wire
from coffer.vault.app import MAX_BODY, HttpSettings, create_app
from coffer.vault.asgi_post import MAX_DEPTH, nesting
from coffer.vault.client import VaultClient
from coffer.vault.clientaddr import client_address, parse_networks
from coffer.vault.protocol import VaultCore
from coffer.vault.ratelimit import Limit

from .vault_helpers import FAST_KSF

PROXIES = parse_networks(["10.0.0.0/8", "127.0.0.1"])


@pytest.mark.parametrize(
    ("peer", "xff", "trusted", "expected"),
    [
        ("198.51.100.1", "203.0.113.9", (), "198.51.100.1"),  # no proxies trusted: header ignored
        ("198.51.100.1", "203.0.113.9", PROXIES, "198.51.100.1"),  # peer is not a proxy
        ("10.1.1.1", "203.0.113.9", PROXIES, "203.0.113.9"),
        ("10.1.1.1", "6.6.6.6, 203.0.113.9", PROXIES, "203.0.113.9"),  # left part: client's
        ("10.1.1.1", "203.0.113.9, 10.2.2.2", PROXIES, "203.0.113.9"),  # two proxies
        ("10.1.1.1", "10.3.3.3, 10.2.2.2", PROXIES, "10.3.3.3"),  # all trusted: leftmost
        ("10.1.1.1", "junk, 203.0.113.9", PROXIES, "203.0.113.9"),
        ("10.1.1.1", "203.0.113.9, junk", PROXIES, "10.1.1.1"),  # garbage: stop at its receiver
        ("10.1.1.1", "[2001:db8::1]:443", PROXIES, "2001:db8::1"),
        ("10.1.1.1", "203.0.113.9:5555", PROXIES, "203.0.113.9"),
        ("10.1.1.1", None, PROXIES, "10.1.1.1"),
    ],
)
def test_client_address_is_the_rightmost_untrusted_hop(
    peer: str, xff: str | None, trusted: tuple, expected: str
) -> None:
    assert client_address(peer, xff, trusted) == expected


def test_bad_trusted_proxy_is_refused() -> None:
    with pytest.raises(ValueError, match="not an address"):
        parse_networks(["10.0.0.0/33"])


def _limited(core: VaultCore, proxies: tuple = ()) -> TestClient:
    http = HttpSettings(
        per_address=Limit(rate=0.01, burst=5), per_account=Limit(0, 0), trusted_proxies=proxies
    )
    return TestClient(create_app(core, http), client=("127.0.0.1", 40000))


def test_spoofed_forwarded_for_does_not_dodge_the_address_limit(core: VaultCore) -> None:
    with _limited(core) as http:
        codes = [
            http.get("/v1/info", headers={"x-forwarded-for": f"203.0.113.{i}"}).status_code
            for i in range(60)
        ]
    assert codes.count(200) == 5 and codes.count(429) == 55


def test_behind_a_trusted_proxy_the_real_client_is_limited_and_audited(core: VaultCore) -> None:
    with _limited(core, PROXIES) as http:
        spoofing = [
            http.get("/v1/info", headers={"x-forwarded-for": f"6.6.6.{i}, 198.51.100.7"})
            for i in range(8)
        ]
        assert [r.status_code for r in spoofing].count(200) == 5
        other = http.get(
            "/v1/attempts", params={"account": "zoe"}, headers={"x-forwarded-for": "198.51.100.8"}
        )
        assert other.status_code == 200
    assert [e["client"] for e in core.store.audit_events()] == []  # attempts read, no event
    _, ke1 = client_login_start(b"pw")
    with _limited(core, PROXIES) as http:
        r = http.post(
            "/v1/recover/start",
            json={"account": "zoe", "ke1": wire.b64e(ke1)},
            headers={"x-forwarded-for": "6.6.6.6, 198.51.100.9"},
        )
        assert r.status_code == 200
    assert core.store.audit_events("zoe")[-1]["client"] == "198.51.100.9"


def _ke1_body() -> bytes:
    _, ke1 = client_login_start(b"pw")
    return b'{"account": "alice", "ke1": "' + wire.b64e(ke1).encode() + b'"}'


@pytest.mark.parametrize(
    "media", ["text/plain", "application/x-www-form-urlencoded", "", "multipart/form-data"]
)
def test_only_application_json_bodies_are_accepted(http: TestClient, media: str) -> None:
    headers = {"content-type": media} if media else {}
    r = http.post("/v1/recover/start", content=_ke1_body(), headers=headers)
    assert r.status_code == 415 and r.json()["error"] == "unsupported_media_type"
    ok = http.post(
        "/v1/recover/start",
        content=_ke1_body(),
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert ok.status_code == 200


@pytest.mark.parametrize("depth", [9, 100, 1500, 2000])
def test_deep_json_is_400_not_500(http: TestClient, depth: int) -> None:
    body = b'{"account": "a", "ke1": ' + b"[" * depth + b"]" * depth + b"}"
    assert len(body) <= MAX_BODY
    r = http.post("/v1/recover/start", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"] == "bad_request"
    assert "nests deeper" in r.json()["message"]


def test_strings_full_of_brackets_are_not_depth(http: TestClient) -> None:
    body = b'{"account": "a[[[[[[[[[[[[", "ke1": "\\"[[[[[[[[[[[[[[[["}'
    r = http.post("/v1/recover/start", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400 and "account" in r.json()["message"]


def test_unknown_paths_and_methods_answer_json(http: TestClient) -> None:
    r = http.get("/v1/nothing-here")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = http.get("/v1/recover/start")
    assert r.status_code == 405 and r.json()["error"] == "method_not_allowed"


def test_shared_rate_limits_live_in_the_store(core: VaultCore) -> None:
    """Two apps (two nodes) over one store share one bucket per address."""
    core.apply(core.settings.replace(rate_per_address=0.01, burst_per_address=6))
    a = TestClient(create_app(core, HttpSettings()), client=("192.0.2.5", 1))
    b = TestClient(create_app(core, HttpSettings()), client=("192.0.2.5", 2))
    codes = [(a if i % 2 else b).get("/v1/info").status_code for i in range(10)]
    assert codes.count(200) == 6
    r = a.get("/v1/info")
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    c = TestClient(create_app(core, HttpSettings()), client=("192.0.2.6", 3))
    assert c.get("/v1/info").status_code == 200


def test_health_and_ready(http: TestClient, core: VaultCore, tmp_path) -> None:
    assert http.get("/v1/health").json()["status"] == "alive"
    assert http.get("/v1/ready").json()["status"] == "ready"
    from coffer.vault.store_sqlite import SqliteStore

    (tmp_path / "blocker").write_text("not a directory")
    core.store = SqliteStore(tmp_path / "blocker" / "v.db")
    r = http.get("/v1/ready")
    assert r.status_code == 503 and r.json()["error"] == "not_ready"
    assert http.get("/v1/health").status_code == 200


@pytest.mark.parametrize("depth", range(13))
@pytest.mark.parametrize("noise", [b"", b"[[[[[[[[[[", b"{{{{{{{{{{{{"])
def test_the_bracket_count_shortcut_gives_the_walk_s_verdict(depth: int, noise: bytes) -> None:
    """``nesting`` answers from the bracket count when it is small enough; the verdict (deeper
    than MAX_DEPTH or not) must be the byte-by-byte walk's, with brackets inside strings too."""
    text = json.dumps({"s": noise.decode(), "v": _nested(depth)}).encode()
    true_depth = 1 + depth  # the outer object, then ``depth`` lists
    assert (nesting(text) > MAX_DEPTH) == (true_depth > MAX_DEPTH)
    assert nesting(text) >= true_depth


def _nested(depth: int) -> object:
    value: object = "x"
    for _ in range(depth):
        value = [value]
    return value


def test_a_live_attempt_s_finish_takes_no_address_token(
    client: VaultClient, core: VaultCore
) -> None:
    """recover/start takes the address token; recover/finish of the attempt it opened takes none
    (an attempt finishes once, so uncharged finishes never outnumber charged starts); a finish
    of an unknown or used attempt ID is charged — a flood of junk IDs is still limited."""
    secret = b"v" * 32
    client.register("alice", b"pw", secret, ksf=FAST_KSF)
    core.apply(core.settings.replace(rate_per_address=0.001, burst_per_address=4))
    http = TestClient(create_app(core, HttpSettings()), client=("192.0.2.9", 1))
    cfg = Config(context=core.config.context, ksf=FAST_KSF)
    finished: list[str] = []
    for _ in range(4):  # 4 tokens: 4 starts, and 4 finishes beside them
        state, ke1 = client_login_start(b"pw")
        start = http.post("/v1/recover/start", json={"account": "alice", "ke1": wire.b64e(ke1)})
        assert start.status_code == 200, start.text
        ke3, _, _ = client_login_finish(state, wire.b64d(start.json()["ke2"]), cfg)
        body = {"attempt_id": start.json()["attempt_id"], "ke3": wire.b64e(ke3)}
        done = http.post("/v1/recover/finish", json=body)
        assert done.status_code == 200, done.text
        finished.append(body["attempt_id"])
    again = http.post("/v1/recover/finish", json={"attempt_id": finished[0], "ke3": body["ke3"]})
    assert again.status_code == 429  # a used ID is charged, and the bucket is empty
    state, ke1 = client_login_start(b"pw")
    r = http.post("/v1/recover/start", json={"account": "alice", "ke1": wire.b64e(ke1)})
    assert r.status_code == 429
    other = TestClient(create_app(core, HttpSettings()), client=("192.0.2.10", 1))
    junk = {"attempt_id": wire.b64e(bytes(16)), "ke3": body["ke3"]}
    codes = [other.post("/v1/recover/finish", json=junk).status_code for _ in range(6)]
    assert codes == [410] * 4 + [429] * 2
