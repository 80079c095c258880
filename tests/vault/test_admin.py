"""Operator commands through the CLI (in process): accounts, housekeeping, audit retention, seal
rotation between key files and SoftHSM2 keys, and the PKCS#11 PIN from a file or a systemd
credential."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from coffer.cli.vault_cmd import vault
from coffer.vault import store_admin
from coffer.vault.client import VaultClient
from coffer.vault.errors import SealError, StoreError
from coffer.vault.protocol import VaultCore
from coffer.vault.seal import PIN_CREDENTIAL, KeyFileSealer, Pkcs11Sealer, resolve_pin
from coffer.vault.server import load_core, load_setup
from coffer.vault.store import AuditContext, SqlStore

from .conftest import HSM_PIN, SOFTHSM_LIB
from .vault_helpers import FAST_KSF, SETTINGS

PW = b"admin test password"
V = os.urandom(32)
CTX = AuditContext("test", "test")


def _cli(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(vault, list(args))
    return r.exit_code, r.output


def _sqlite_vault(tmp_path: Path) -> tuple[str, str]:
    db, key = str(tmp_path / "v.db"), str(tmp_path / "seal.key")
    code, out = _cli("init", "--db", db, "--key-file", key)
    assert code == 0, out
    return db, key


def test_accounts_list_show_delete_never_show_secrets(
    client: VaultClient, core: VaultCore, store: SqlStore
) -> None:
    client.register("alice", PW, V, ksf=FAST_KSF)
    client.register("bob", PW, V, ksf=FAST_KSF)
    with pytest.raises(Exception):
        client.recover("bob", b"wrong")
    with pytest.raises(Exception):
        client.recover("ghosty", b"probe")
    rows = store_admin.list_accounts(store)
    assert [(r.account, r.state, r.attempts_left) for r in rows] == [
        ("alice", "active", 10),
        ("bob", "active", 9),
        ("ghosty", "ghost", 9),
    ]
    assert [r.account for r in store_admin.list_accounts(store, state="active", prefix="b")] == [
        "bob"
    ]
    assert store_admin.count_accounts(store) == {"active": 2, "ghost": 1}
    shown = store_admin.show_account(store, "bob")
    assert shown is not None and "record" not in shown.__dict__ and "secret" not in shown.__dict__
    assert store_admin.delete_account(store, "bob", CTX) is True
    assert store_admin.delete_account(store, "bob", CTX) is False
    assert store.audit_events("bob")[-1]["event"] == "operator-delete"
    client.register("bob", PW, V, ksf=FAST_KSF)  # the name is free again, fresh allowance
    assert client.attempts_left("bob") == 10


def test_accounts_cli_output(tmp_path: Path) -> None:
    db, key = _sqlite_vault(tmp_path)
    from coffer.vault.server import open_store

    store = open_store(db)
    core = load_core(store, KeyFileSealer(Path(key)), SETTINGS)
    core.recover_start({"account": "probe", "ke1": _ke1()}, CTX)
    code, out = _cli("accounts", "list", "--db", db)
    assert code == 0 and "probe" in out and "ghost" in out and "9/10" in out
    assert "(1 ghost)" in out
    code, out = _cli("accounts", "show", "--db", db, "probe")
    assert code == 0 and "attempts_left  9" in out and " attempt " in out
    code, out = _cli("accounts", "show", "--db", db, "nobody")
    assert code == 1 and "no account 'nobody'" in out
    code, out = _cli("accounts", "delete", "--db", db, "probe", "--yes")
    assert code == 0 and "deleted account 'probe'" in out
    code, out = _cli("accounts", "--help")
    assert "reset" not in out.lower()  # no command resets or raises a guess counter


def _ke1() -> str:
    from coffer.opaque import client_login_start
    from coffer.vault import wire

    return wire.b64e(client_login_start(b"x")[1])


def test_idle_ghosts_are_swept_live_ones_and_accounts_stay(
    client: VaultClient, core: VaultCore, store: SqlStore
) -> None:
    client.register("real", PW, V, ksf=FAST_KSF)
    now = time.time()
    core.recover_start({"account": "old-ghost", "ke1": _ke1()}, CTX)
    store.sweep(now + 10_000, CTX)  # its attempt expired long ago
    assert store_admin.sweep_ghosts(store, now + 5 * 86400, 30, CTX) == 0  # not idle long enough
    core.recover_start({"account": "pending-ghost", "ke1": _ke1()}, CTX)
    later = now + 31 * 86400
    assert store_admin.sweep_ghosts(store, later, 30, CTX) == 1  # pending-ghost has a live try
    names = [r.account for r in store_admin.list_accounts(store)]
    assert names == ["pending-ghost", "real"]
    assert store.audit_events("")[-1]["event"] == "ghosts-swept"


def test_audit_retention_moves_a_horizon_that_only_goes_forward(store: SqlStore) -> None:
    from coffer.vault import store_sql as sql

    with store._tx() as cur:
        for ts in (1000.0, 2000.0, 3_000_000.0):
            sql.audit(store._run, cur, ts, "attempt", "acct", CTX, 5)
    with pytest.raises(StoreError, match="append-only"):  # nothing is past the horizon yet
        with store._tx() as cur:
            store._run(cur, "DELETE FROM audit WHERE ts = %s", 1000.0)
    now = 3_000_000.0 + 10 * 86400
    assert store_admin.prune_audit(store, now, 30, CTX) == 2
    assert [e["ts"] for e in store.audit_events("acct")] == [3_000_000.0]
    with pytest.raises(StoreError, match="append-only"):  # newer rows stay protected
        with store._tx() as cur:
            store._run(cur, "DELETE FROM audit WHERE ts = %s", 3_000_000.0)
    with pytest.raises(StoreError, match="only moves forward"):
        with store._tx() as cur:
            store._run(cur, "UPDATE audit_horizon SET horizon = 0")
    assert store_admin.prune_audit(store, now - 86400, 30, CTX) == 0  # an older horizon: no-op
    assert store.audit_events("")[-1]["event"] == "audit-pruned"


def test_housekeeping_command(tmp_path: Path) -> None:
    db, _ = _sqlite_vault(tmp_path)
    code, out = _cli("housekeeping", "--db", db)
    assert code == 0 and "swept 0 ghost(s)" in out


def test_rotate_key_file_to_key_file_keeps_every_record(tmp_path: Path) -> None:
    from coffer.vault.app import create_app
    from coffer.vault.server import open_store

    from .vault_helpers import OPEN_LIMITS

    db, key = _sqlite_vault(tmp_path)
    store = open_store(db)
    core = load_core(store, KeyFileSealer(Path(key)), SETTINGS)
    from starlette.testclient import TestClient

    http = TestClient(create_app(core, OPEN_LIMITS), base_url="http://v.test")
    VaultClient("http://v.test", transport=http).register("keep", PW, V, ksf=FAST_KSF)
    new_key = str(tmp_path / "seal-2026.key")
    code, out = _cli("rotate-seal", "--db", db, "--key-file", key, "--to-key-file", new_key)
    assert code == 0, out
    assert "re-sealed" in out and Path(new_key).stat().st_mode & 0o777 == 0o600
    with pytest.raises(SealError):
        load_setup(store, KeyFileSealer(Path(key)))  # the old key no longer opens it
    again = load_core(store, KeyFileSealer(Path(new_key)), SETTINGS)
    assert again.setup.public_key == core.setup.public_key
    http2 = TestClient(create_app(again, OPEN_LIMITS), base_url="http://v.test")
    assert VaultClient("http://v.test", transport=http2).recover("keep", PW) == V
    assert store.audit_events("")[-1]["event"] == "seal-rotated"
    code, out = _cli("rotate-seal", "--db", db, "--key-file", key, "--to-key-file", new_key + "x")
    assert code == 15 and "does not open" in out  # wrong old key: nothing changes
    code, out = _cli("rotate-seal", "--db", db, "--key-file", new_key)
    assert code == 2 and "--to-key-file or --to-pkcs11-lib" in out


@pytest.mark.integration
def test_rotate_key_file_to_pkcs11_to_pkcs11(
    softhsm_token: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COFFER_VAULT_PKCS11_PIN", raising=False)
    pin_file = tmp_path / "pin"
    pin_file.write_text(HSM_PIN + "\n")
    pin_file.chmod(0o600)
    db, key = _sqlite_vault(tmp_path)
    from coffer.vault.server import open_store

    store = open_store(db)
    public = load_setup(store, KeyFileSealer(Path(key))).public_key
    first, second = (f"rot-{uuid.uuid4().hex[:8]}" for _ in range(2))
    hsm = ["--pkcs11-lib", SOFTHSM_LIB, "--pkcs11-token", softhsm_token]
    to = ["--to-pkcs11-lib", SOFTHSM_LIB, "--to-pkcs11-token", softhsm_token]
    code, out = _cli(
        "rotate-seal",
        "--db",
        db,
        "--key-file",
        key,
        *to,
        "--to-pkcs11-key",
        first,
        "--to-pkcs11-pin-file",
        str(pin_file),
    )
    assert code == 0, out
    sealer = Pkcs11Sealer(SOFTHSM_LIB, softhsm_token, first, pin=HSM_PIN)
    assert load_setup(store, sealer).public_key == public
    code, out = _cli(
        "rotate-seal",
        "--db",
        db,
        *hsm,
        "--pkcs11-key",
        first,
        "--pkcs11-pin-file",
        str(pin_file),
        *to,
        "--to-pkcs11-key",
        second,
        "--to-pkcs11-pin-file",
        str(pin_file),
    )
    assert code == 0, out
    second_sealer = Pkcs11Sealer(SOFTHSM_LIB, softhsm_token, second, pin=HSM_PIN)
    assert load_setup(store, second_sealer).public_key == public
    with pytest.raises(SealError):
        load_setup(store, sealer)


def test_pin_from_file_credential_or_environment(tmp_path: Path) -> None:
    pin_file = tmp_path / "pin"
    pin_file.write_text("1234\n")
    pin_file.chmod(0o600)
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / PIN_CREDENTIAL).write_text("5678")
    env = {"CREDENTIALS_DIRECTORY": str(creds), "COFFER_VAULT_PKCS11_PIN": "9999"}
    assert resolve_pin(pin_file, env) == "1234"
    assert resolve_pin(None, env) == "5678"  # systemd LoadCredential=coffer-vault-pkcs11-pin:…
    assert resolve_pin(None, {"COFFER_VAULT_PKCS11_PIN": "9999"}) == "9999"
    assert resolve_pin(None, {}) is None
    pin_file.chmod(0o644)
    with pytest.raises(SealError, match="readable by others"):
        resolve_pin(pin_file, env)
    with pytest.raises(SealError, match="no PKCS#11 user PIN"):
        os.environ.pop("COFFER_VAULT_PKCS11_PIN", None)
        Pkcs11Sealer(SOFTHSM_LIB, "t", "k", pin=resolve_pin(None, {}))
