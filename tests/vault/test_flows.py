"""Every flow and its errors: the real client against the real app in process."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from coffer.errors import VaultError, WrongKey
from coffer.vault.client import VaultClient
from coffer.vault.errors import (
    AccountExists,
    VaultKeyMismatch,
    VaultLocked,
    VaultProtocolError,
    VaultUnavailable,
    WrongPassword,
)
from coffer.vault.protocol import VaultCore

PW = b"correct horse battery staple"
V = os.urandom(32)


def test_register_then_recover_returns_v(client: VaultClient) -> None:
    client.register("alice", PW, V)
    assert client.recover("alice", PW) == V
    assert client.attempts_left("alice") == 10


def test_vault_never_stores_v_in_clear(client: VaultClient, core: VaultCore) -> None:
    client.register("alice", PW, V)
    row = core.store.raw_account("alice")
    assert row is not None and V not in bytes(row["secret"]) and PW not in bytes(row["record"])


def test_wrong_password_counts_down_and_correct_restores(client: VaultClient) -> None:
    client.register("bob", PW, V)
    for expected in (9, 8, 7):
        with pytest.raises(WrongPassword) as info:
            client.recover("bob", b"wrong")
        assert info.value.attempts_left == expected
        assert isinstance(info.value, WrongKey) and info.value.exit_code == 11
    assert client.attempts_left("bob") == 7
    assert client.recover("bob", PW) == V
    assert client.attempts_left("bob") == 10


def test_ten_wrong_guesses_lock_and_destroy(client: VaultClient, core: VaultCore) -> None:
    client.register("carol", PW, V)
    for _ in range(9):
        with pytest.raises(WrongPassword):
            client.recover("carol", b"nope")
    with pytest.raises(WrongPassword) as last:
        client.recover("carol", b"nope")
    assert last.value.attempts_left == 0 and last.value.locked
    row = core.store.raw_account("carol")
    assert row is not None and row["state"] == "locked"
    assert row["record"] is None and row["secret"] is None
    with pytest.raises(VaultLocked) as locked:
        client.recover("carol", PW)
    assert isinstance(locked.value, VaultError) and locked.value.exit_code == 15
    assert client.attempts_left("carol") == 0
    with pytest.raises(VaultLocked):
        client.register("carol", PW, V)


def test_unknown_account_looks_like_a_wrong_password(client: VaultClient) -> None:
    client.register("dave", PW, V)
    with pytest.raises(WrongPassword) as real:
        client.recover("dave", b"guess")
    with pytest.raises(WrongPassword) as fake:
        client.recover("nobody", b"guess")
    assert real.value.attempts_left == fake.value.attempts_left == 9
    assert client.attempts_left("nobody") == 9


def test_register_twice_needs_login(client: VaultClient) -> None:
    client.register("erin", PW, V)
    with pytest.raises(AccountExists):
        client.register("erin", b"other", os.urandom(32))
    assert client.recover("erin", PW) == V


def test_change_password(client: VaultClient, core: VaultCore) -> None:
    client.register("frank", PW, V)
    with pytest.raises(WrongPassword):
        client.recover("frank", b"wrong")
    client.change_password("frank", PW, b"new password")
    assert client.attempts_left("frank") == 10
    with pytest.raises(WrongPassword):
        client.recover("frank", PW)
    assert client.recover("frank", b"new password") == V


def test_change_password_with_wrong_old_password(client: VaultClient) -> None:
    client.register("gina", PW, V)
    with pytest.raises(WrongPassword):
        client.change_password("gina", b"bad", b"new")
    assert client.recover("gina", PW) == V


def test_delete(client: VaultClient, core: VaultCore) -> None:
    client.register("hank", PW, V)
    with pytest.raises(WrongPassword):
        client.delete("hank", b"bad")
    client.delete("hank", PW)
    assert core.store.raw_account("hank") is None
    with pytest.raises(WrongPassword):
        client.recover("hank", PW)
    client.register("hank", b"second life", V)
    assert client.recover("hank", b"second life") == V


def test_audit_log_records_events_without_secrets(client: VaultClient, core: VaultCore) -> None:
    client.register("ivy", PW, V)
    with pytest.raises(WrongPassword):
        client.recover("ivy", b"bad")
    client.recover("ivy", PW)
    events = [e["event"] for e in core.store.audit_events("ivy")]
    assert events == ["register", "attempt", "failure", "attempt", "success"]
    dump = repr(core.store.audit_events())
    assert PW.decode() not in dump and V.hex() not in dump


def test_pinned_key_mismatch_refused(http: TestClient) -> None:
    other = VaultClient("http://vault.test", pinned_key=bytes(32), transport=http)
    with pytest.raises(VaultKeyMismatch):
        other.register("jack", PW, V)


def test_tofu_known_vaults(http: TestClient, core: VaultCore, tmp_path: Path) -> None:
    known = tmp_path / "known_vaults.json"
    first = VaultClient(
        "http://vault.test", pinned_key=None, known_vaults_path=known, transport=http
    )
    info = first.info()
    assert info.public_key == core.setup.public_key and known.stat().st_mode & 0o077 == 0
    assert info.fingerprint in known.read_text()
    known.write_text(
        known.read_text()
        .replace(info.fingerprint, "x")
        .replace(
            next(iter(__import__("json").loads(known.read_text()).values()))["public_key"], "AAAA"
        )
    )
    again = VaultClient(
        "http://vault.test", pinned_key=None, known_vaults_path=known, transport=http
    )
    with pytest.raises(VaultKeyMismatch):
        again.info()


def test_unreachable_vault() -> None:
    client = VaultClient("http://127.0.0.1:9", pinned_key=None, timeout=2.0)
    with pytest.raises(VaultUnavailable) as info:
        client.attempts_left("x")
    assert info.value.exit_code == 15


def _misbehaving(status: int, content: bytes) -> VaultClient:
    """A client whose peer is a misbehaving vault (answers every request the same way)."""
    import httpx

    transport = httpx.MockTransport(lambda request: httpx.Response(status, content=content))
    return VaultClient("http://bad.test", pinned_key=None, transport=transport)


@pytest.mark.parametrize(
    ("status", "content", "error"),
    [
        (200, b"not json", "VaultProtocolError"),
        (200, b"[]", "VaultProtocolError"),
        (200, b'{"public_key": "short"}', "VaultProtocolError"),
        (500, b"oops", "VaultUnavailable"),
        (503, b'{"error": "unavailable", "message": "db"}', "VaultUnavailable"),
        (418, b'{"error": "teapot", "message": "?"}', "BadRequest"),
    ],
)
def test_misbehaving_vault_gives_typed_errors(status: int, content: bytes, error: str) -> None:
    with pytest.raises(VaultError) as info:
        _misbehaving(status, content).recover("alice", PW)
    assert type(info.value).__name__ == error and info.value.exit_code == 15


def test_client_refuses_weak_stretching_whoever_asks(http: TestClient) -> None:
    """/v1/info is not authenticated: a trivial advertised KSF must not weaken the record."""
    from coffer.opaque import IdentityKSF
    from coffer.vault.client import MIN_KSF_DEFAULT

    strict = VaultClient("http://vault.test", transport=http, min_ksf=MIN_KSF_DEFAULT)
    with pytest.raises(VaultProtocolError, match="below this device's floor"):
        strict.register("kate", PW, V)  # the test vault advertises 64 KiB
    with pytest.raises(VaultProtocolError):
        strict.register("kate", PW, V, ksf=IdentityKSF())
    assert strict.attempts_left("kate") >= 0  # nothing was registered, no error either way


def test_fingerprint_mismatch_is_not_remembered(
    http: TestClient, core: VaultCore, tmp_path: Path
) -> None:
    known = tmp_path / "known_vaults.json"
    wrong = VaultClient(
        "http://vault.test",
        known_vaults_path=known,
        transport=http,
        expected_fingerprint="0000:0000:0000:0000:0000:0000:0000:0000",
    )
    with pytest.raises(VaultKeyMismatch):
        wrong.info()
    assert not known.exists() or core.setup.public_key.hex() not in known.read_text()
    right = VaultClient("http://vault.test", known_vaults_path=known, transport=http)
    assert right.info().public_key == core.setup.public_key


def test_error_body_cannot_crash_the_client() -> None:
    with pytest.raises(VaultError) as info:
        _misbehaving(400, b'{"error": "bad_request", "message": "x", "self": 1}').recover("a", PW)
    assert info.value.exit_code == 15
