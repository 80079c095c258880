"""Stored deployment settings: the OPAQUE context, the KSFs accepted, the guess limit — stored
once in the database, changed only by an audited command, and followed by every node."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from coffer.cli.vault_cmd import vault
from coffer.opaque import KSF_OPAQUE_KE_DEFAULT, Argon2idKSF
from coffer.vault import wire
from coffer.vault.app import create_app
from coffer.vault.client import VaultClient
from coffer.vault.errors import BadRequest, VaultConfigError
from coffer.vault.protocol import VaultCore
from coffer.vault.seal import KeyFileSealer
from coffer.vault.server import init_vault, load_core, load_settings, open_store
from coffer.vault.settings import KSF_PROFILES, LEGACY_CONTEXT, VaultSettings
from coffer.vault.store import SqlStore

from .vault_helpers import FAST_KSF, OPEN_LIMITS, SETTINGS

PW = b"settings test password"
V = os.urandom(32)


def _client(core: VaultCore) -> tuple[VaultClient, TestClient]:
    http = TestClient(create_app(core, OPEN_LIMITS), base_url="http://vault.test")
    return VaultClient("http://vault.test", pinned_key=core.setup.public_key, transport=http), http


def test_default_context_is_empty_and_advertised(http: TestClient) -> None:
    info = http.get("/v1/info").json()
    assert info["context"] == "" and info["identities"] == "public-keys"
    assert info["accepted_ksf"][0] == info["default_ksf"]


def test_record_made_under_the_old_context_opens_under_the_new_one(
    store: SqlStore, sealer: KeyFileSealer
) -> None:
    """A vault that ran with the former fixed context `coffer-vault/v1`: a record registered
    then is still usable after the switch to the empty default (the context is not part of
    the record, only of each login's transcript)."""
    init_vault(store, sealer)
    old = load_core(store, sealer, SETTINGS.replace(context=LEGACY_CONTEXT))
    client, http = _client(old)
    assert http.get("/v1/info").json()["context"] == "coffer-vault/v1"
    client.register("veteran", PW, V, ksf=FAST_KSF)
    assert client.recover("veteran", PW) == V
    new = load_core(store, sealer, SETTINGS)
    assert new.settings.context == b""
    client, http = _client(new)
    assert http.get("/v1/info").json()["context"] == ""
    assert client.recover("veteran", PW) == V
    client.change_password("veteran", PW, b"new password", ksf=FAST_KSF)
    assert client.recover("veteran", b"new password") == V


def test_mismatched_context_fails_the_login_and_spends_the_guess(
    store: SqlStore, sealer: KeyFileSealer
) -> None:
    """What a stock opaque-ke client met before: registration fine, every login failing."""
    init_vault(store, sealer)
    client, _ = _client(load_core(store, sealer, SETTINGS))
    client.register("kim", PW, V, ksf=FAST_KSF)
    wrong = _client(load_core(store, sealer, SETTINGS))[0]
    wrong.info()
    assert wrong._info is not None
    object.__setattr__(wrong._info, "context", LEGACY_CONTEXT)
    from coffer.vault.errors import WrongPassword

    with pytest.raises(WrongPassword) as info:
        wrong.recover("kim", PW)
    assert info.value.attempts_left == 9


def test_registration_accepts_only_reproducible_ksfs(core: VaultCore, client: VaultClient) -> None:
    core.apply(VaultSettings(node="t"))  # the stored defaults: profiles only
    client.register("ok", PW, V, ksf=KSF_OPAQUE_KE_DEFAULT)
    assert client.recover("ok", PW) == V
    with pytest.raises(BadRequest, match="accepted_ksf"):  # no client has this preset
        client.register(
            "nope", PW, V, ksf=Argon2idKSF(memory_kib=1024, iterations=3, parallelism=2)
        )
    # m = 2^21 KiB (2 GiB): @serenity-kit/opaque cannot compute it; refused before the record
    # is even looked at (so this test need not spend 2 GiB of Argon2id to make one)
    body = {
        "account": "big",
        "registration_id": wire.b64e(bytes(16)),
        "record": wire.b64e(bytes(192)),
        "sealed_secret": wire.b64e(bytes(72)),
        "ksf": {"alg": "argon2id", "memory_kib": 2**21, "iterations": 1, "parallelism": 4},
    }
    from coffer.vault.store import AuditContext

    with pytest.raises(BadRequest, match="accepted_ksf"):
        core.register_finish(body, AuditContext())
    assert client.info().default_ksf == KSF_PROFILES["memory-constrained"]
    assert core.info()["accepted_ksf"] == [
        wire.ksf_to_json(KSF_PROFILES[n])
        for n in ("memory-constrained", "rfc9106-recommended", "opaque-ke-default", "mobile")
    ]


def test_settings_are_validated() -> None:
    with pytest.raises(VaultConfigError, match="max_attempts"):
        VaultSettings(max_attempts=0)
    with pytest.raises(VaultConfigError, match="allowed_ksf"):
        VaultSettings(allowed_ksf=("made-up",))
    with pytest.raises(VaultConfigError, match="context"):
        VaultSettings(context=b"\x00")
    s = VaultSettings(max_attempts=5, context=b"acme/v2")
    from coffer.vault import settings as doc

    assert doc.decode(doc.encode(s)) == s


def test_stored_settings_survive_reopen_and_reach_the_core(tmp_path: Path) -> None:
    db, key = str(tmp_path / "v.db"), str(tmp_path / "k")
    runner = CliRunner()
    out = runner.invoke(vault, ["init", "--db", db, "--key-file", key, "--max-attempts", "5"])
    assert out.exit_code == 0, out.output
    store = open_store(db)
    assert load_settings(store).max_attempts == 5
    core = load_core(store, KeyFileSealer(Path(key)), node="n1")
    assert core.info()["max_attempts"] == 5 and store.max_attempts == 5

    changed = runner.invoke(
        vault, ["settings", "set", "--db", db, "--max-attempts", "7", "--context", "acme"]
    )
    assert changed.exit_code == 0, changed.output
    assert "set max_attempts = 7" in changed.output
    assert core.refresh_settings() is True
    assert core.info()["max_attempts"] == 7 and core.info()["context"] == "acme"
    assert core.refresh_settings() is False
    audit = [e for e in store.audit_events() if e["event"] == "settings"]
    assert len(audit) == 1 and "max_attempts=7" in audit[0]["detail"]
    assert audit[0]["client"].startswith("operator:")
    shown = runner.invoke(vault, ["settings", "show", "--db", db])
    assert '"acme"' in shown.output and "max_attempts" in shown.output
    same = runner.invoke(vault, ["settings", "set", "--db", db, "--max-attempts", "7"])
    assert "no setting changed" in same.output
    bad = runner.invoke(vault, ["settings", "set", "--db", db, "--allowed-ksf", "weak"])
    assert bad.exit_code == 15 and "allowed_ksf" in bad.output


def test_serve_refuses_the_former_security_flags(tmp_path: Path) -> None:
    r = CliRunner().invoke(vault, ["serve", "--db", str(tmp_path / "x"), "--max-attempts", "5"])
    assert r.exit_code == 2 and "vault settings set --max-attempts" in r.output
    r = CliRunner().invoke(vault, ["serve", "--trust-forwarded-for"])
    assert r.exit_code == 2 and "--trusted-proxy" in r.output


def test_database_without_stored_settings_reads_as_defaults(
    store: SqlStore, sealer: KeyFileSealer
) -> None:
    from coffer.vault.settings import META_SETTINGS

    init_vault(store, sealer)
    with store._tx() as cur:  # a database made before settings were stored
        store._run(cur, "DELETE FROM meta WHERE name = %s", META_SETTINGS)
    assert load_settings(store) == VaultSettings()
    assert (
        wire.ksf_from_json(load_settings(store).default_ksf) == KSF_PROFILES["memory-constrained"]
    )
