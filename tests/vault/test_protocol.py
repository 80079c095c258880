"""The sans-I/O core driven directly, with an injected clock: expiry, grants, generations."""

from __future__ import annotations

import os

import pytest

from coffer.opaque import (
    Config,
    client_login_finish,
    client_login_start,
    client_registration_finish,
    client_registration_start,
)
from coffer.vault import _crypto, wire
from coffer.vault.errors import AttemptExpired, Conflict, LoginFailed, VaultLocked
from coffer.vault.protocol import CONTEXT, VaultCore
from coffer.vault.seal import KeyFileSealer
from coffer.vault.server import load_setup
from coffer.vault.store import AuditContext, SqlStore

from .vault_helpers import FAST_KSF, SETTINGS

CTX = AuditContext("192.0.2.7", "core")
CFG = Config(context=CONTEXT, ksf=FAST_KSF)
PW = b"pw"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ticking(core: VaultCore, store: SqlStore, sealer: KeyFileSealer) -> tuple[VaultCore, Clock]:
    clock = Clock()
    return VaultCore(load_setup(store, sealer), store, SETTINGS, clock=clock), clock


def _register(core: VaultCore, account: str = "amy") -> None:
    state, req = client_registration_start(PW)
    start = core.register_start({"account": account, "registration_request": wire.b64e(req)}, CTX)
    record, _export = client_registration_finish(
        state, wire.b64d(start["registration_response"]), CFG
    )
    body = {
        "account": account,
        "registration_id": start["registration_id"],
        "record": wire.b64e(record),
        "sealed_secret": wire.b64e(os.urandom(72)),
        "ksf": wire.ksf_to_json(FAST_KSF),
    }
    core.register_finish(body, CTX)


def _login(core: VaultCore, account: str = "amy") -> tuple[str, bytes, bytes]:
    state, ke1 = client_login_start(PW)
    out = core.recover_start({"account": account, "ke1": wire.b64e(ke1)}, CTX)
    ke3, session, _ = client_login_finish(state, wire.b64d(out["ke2"]), CFG)
    return out["attempt_id"], ke3, session


def test_expired_attempt_counts_and_says_so(ticking: tuple[VaultCore, Clock]) -> None:
    core, clock = ticking
    _register(core)
    attempt, ke3, _ = _login(core)
    clock.now += SETTINGS.attempt_ttl + 1
    with pytest.raises(AttemptExpired) as info:
        core.recover_finish({"attempt_id": attempt, "ke3": wire.b64e(ke3)}, CTX)
    assert info.value.extra["attempts_left"] == 9
    assert core.attempts("amy", CTX)["attempts_left"] == 9


def test_last_attempt_expiring_locks(ticking: tuple[VaultCore, Clock]) -> None:
    core, clock = ticking
    _register(core)
    logins = [_login(core) for _ in range(10)]
    with pytest.raises(VaultLocked):  # the last attempt is still pending: no 11th KE2
        _login(core)
    clock.now += SETTINGS.attempt_ttl + 1
    attempt, ke3, _ = logins[-1]
    with pytest.raises(VaultLocked):
        core.recover_finish({"attempt_id": attempt, "ke3": wire.b64e(ke3)}, CTX)
    assert core.store.raw_account("amy")["secret"] is None  # type: ignore[index]


def test_grant_is_single_use_expires_and_needs_its_mac(ticking: tuple[VaultCore, Clock]) -> None:
    core, clock = ticking
    _register(core)

    def grant() -> tuple[str, bytes]:
        attempt, ke3, session = _login(core)
        _, req = client_registration_start(b"new")
        auth = _crypto.derive(session, _crypto.LABEL_AUTH)
        out = core.password_change(
            {
                "attempt_id": attempt,
                "ke3": wire.b64e(ke3),
                "registration_request": wire.b64e(req),
                "auth": wire.b64e(_crypto.mac(auth, b"change", wire.b64d(attempt), req)),
            },
            CTX,
        )
        return out["grant_id"], auth

    def commit(grant_id: str, auth: bytes, tamper: bool = False) -> None:
        record, secret = _fake_record(), os.urandom(72)
        ksf = wire.ksf_canonical(FAST_KSF).encode()
        tag = _crypto.mac(auth, b"commit", wire.b64d(grant_id), record, secret, ksf)
        body = {
            "grant_id": grant_id,
            "account": "amy",
            "record": wire.b64e(record),
            "sealed_secret": wire.b64e(secret),
            "ksf": wire.ksf_to_json(FAST_KSF),
            "auth": wire.b64e(bytes(32) if tamper else tag),
        }
        core.password_commit(body, CTX)

    grant_id, auth = grant()
    with pytest.raises(LoginFailed):
        commit(grant_id, auth, tamper=True)
    with pytest.raises(AttemptExpired):  # a refused grant is consumed
        commit(grant_id, auth)
    grant_id, auth = grant()
    clock.now += SETTINGS.grant_ttl + 1
    with pytest.raises(AttemptExpired):
        commit(grant_id, auth)
    clock.now += 1
    grant_id, auth = grant()
    commit(grant_id, auth)
    with pytest.raises(AttemptExpired):
        commit(grant_id, auth)


def test_password_change_invalidates_pending_logins(ticking: tuple[VaultCore, Clock]) -> None:
    core, _ = ticking
    _register(core)
    stale_attempt, stale_ke3, _ = _login(core)
    attempt, ke3, session = _login(core)
    _, req = client_registration_start(b"new")
    auth = _crypto.derive(session, _crypto.LABEL_AUTH)
    out = core.password_change(
        {
            "attempt_id": attempt,
            "ke3": wire.b64e(ke3),
            "registration_request": wire.b64e(req),
            "auth": wire.b64e(_crypto.mac(auth, b"change", wire.b64d(attempt), req)),
        },
        CTX,
    )
    record, secret = _fake_record(), os.urandom(72)
    ksf = wire.ksf_canonical(FAST_KSF).encode()
    gid = wire.b64d(out["grant_id"])
    core.password_commit(
        {
            "grant_id": out["grant_id"],
            "account": "amy",
            "record": wire.b64e(record),
            "sealed_secret": wire.b64e(secret),
            "ksf": wire.ksf_to_json(FAST_KSF),
            "auth": wire.b64e(_crypto.mac(auth, b"commit", gid, record, secret, ksf)),
        },
        CTX,
    )
    with pytest.raises(Conflict):
        core.recover_finish({"attempt_id": stale_attempt, "ke3": wire.b64e(stale_ke3)}, CTX)


def _fake_record() -> bytes:
    """A well-formed record for another password (the content does not matter here)."""
    from coffer.opaque import ServerSetup, server_registration_response

    state, req = client_registration_start(b"other")
    response = server_registration_response(ServerSetup.generate(), req, b"x")
    record, _ = client_registration_finish(state, response, CFG)
    return record
