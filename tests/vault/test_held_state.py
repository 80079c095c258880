"""Client-held login state (``client_state`` → ``login_state``) on SQLite and PostgreSQL: the
attempt is spent before KE2 exists, nothing sealed is stored, the state only opens for its own
attempt, a missing or altered state consumes nothing, and a wrong password still costs exactly
one guess. The stored-state login beside it keeps working unchanged."""

from __future__ import annotations

import os

import pytest

from coffer.opaque import InvalidLogin, client_login_finish, client_login_start
from coffer.vault import _crypto, wire
from coffer.vault.errors import AttemptExpired, BadRequest, LoginFailed, VaultLocked
from coffer.vault.protocol import VaultCore
from coffer.vault.store import SqlStore

from .test_protocol import CFG, CTX, PW, Clock, _register
from .vault_helpers import SETTINGS


def _start(core: VaultCore, password: bytes = PW, account: str = "amy") -> tuple[dict, bytes]:
    state, ke1 = client_login_start(password)
    out = core.recover_start({"account": account, "ke1": wire.b64e(ke1), "client_state": True}, CTX)
    return out, state  # type: ignore[return-value]


def _ke3(out: dict, state: object) -> tuple[bytes, bytes]:
    ke3, session, _ = client_login_finish(state, wire.b64d(out["ke2"]), CFG)  # type: ignore[arg-type]
    return ke3, session


def _finish(core: VaultCore, out: dict, ke3: bytes, **extra: object) -> dict:
    body = {"attempt_id": out["attempt_id"], "ke3": wire.b64e(ke3), **extra}
    return core.recover_finish(body, CTX)


def _pending_sealed(store: SqlStore, attempt_id: str) -> bytes | None:
    with store._tx() as cur:
        row = store._run(
            cur, "SELECT sealed FROM pending WHERE id = %s", wire.b64d(attempt_id)
        ).fetchone()
    return None if row is None else bytes(row[0])


def test_a_held_login_stores_no_state_and_releases_v(core: VaultCore, store: SqlStore) -> None:
    _register(core)
    out, state = _start(core)
    assert out["attempts_left"] == 9 and isinstance(out["login_state"], str)
    assert store.raw_account("amy")["attempts_left"] == 9  # type: ignore[index]
    assert _pending_sealed(store, out["attempt_id"]) == b""  # the row exists, holds nothing
    ke3, session = _ke3(out, state)
    done = _finish(core, out, ke3, login_state=out["login_state"])
    release = _crypto.derive(session, _crypto.LABEL_RELEASE)
    inner = _crypto.open_sealed(
        release, wire.b64d(done["sealed_secret"]), b"release" + wire.b64d(out["attempt_id"])
    )
    assert len(inner) == 72 and done["attempts_left"] == 10
    assert [e["event"] for e in store.audit_events("amy")] == ["register", "attempt", "success"]
    with pytest.raises(AttemptExpired):  # used: the same finish again
        _finish(core, out, ke3, login_state=out["login_state"])


def test_a_held_attempt_finished_without_its_state_consumes_nothing(
    core: VaultCore, store: SqlStore
) -> None:
    _register(core)
    out, state = _start(core)
    ke3, _ = _ke3(out, state)
    with pytest.raises(BadRequest, match="login_state"):
        _finish(core, out, ke3)
    assert _pending_sealed(store, out["attempt_id"]) == b""  # still there
    assert _finish(core, out, ke3, login_state=out["login_state"])["attempts_left"] == 10


def test_an_altered_or_foreign_state_is_refused_and_consumes_nothing(
    core: VaultCore, store: SqlStore
) -> None:
    _register(core)
    out, state = _start(core)
    other, _ = _start(core)
    ke3, _ = _ke3(out, state)
    token = bytearray(wire.b64d(out["login_state"]))
    for bad in (
        wire.b64e(bytes(token[:-1]) + bytes([token[-1] ^ 1])),  # one bit of the tag
        wire.b64e(b"\x02" + bytes(token[1:])),  # another version
        other["login_state"],  # another attempt's state
        "not base64!",
    ):
        with pytest.raises(BadRequest):
            _finish(core, out, ke3, login_state=bad)
    assert _pending_sealed(store, out["attempt_id"]) == b""
    assert _finish(core, out, ke3, login_state=out["login_state"])["attempts_left"] == 10


def test_a_wrong_password_costs_one_guess_and_can_lock(core: VaultCore, store: SqlStore) -> None:
    store.max_attempts = 2
    _register(core)
    for left in (1, 0):
        out, state = _start(core, b"wrong")
        assert out["attempts_left"] == left
        with pytest.raises(InvalidLogin):  # the client cannot even build a KE3
            _ke3(out, state)
        ke3 = os.urandom(64)
        with pytest.raises((LoginFailed, VaultLocked)) as info:
            _finish(core, out, ke3, login_state=out["login_state"])
        assert info.value.extra["attempts_left"] == left
    assert store.raw_account("amy")["state"] == "locked"  # type: ignore[index]
    with pytest.raises(VaultLocked):
        _start(core)
    assert core.attempts("amy", CTX) == {"account": "amy", "attempts_left": 0, "locked": True}


def test_a_bad_ke1_spends_nothing(core: VaultCore, store: SqlStore) -> None:
    _register(core)
    bad = wire.b64e(b"\xff" * 96)
    with pytest.raises(BadRequest, match="ke1"):
        core.recover_start({"account": "amy", "ke1": bad, "client_state": True}, CTX)
    assert store.raw_account("amy")["attempts_left"] == 10  # type: ignore[index]
    with pytest.raises(BadRequest, match="client_state"):
        core.recover_start({"account": "amy", "ke1": bad, "client_state": "yes"}, CTX)


def test_unknown_accounts_answer_held_logins_like_known_ones(
    core: VaultCore, store: SqlStore
) -> None:
    """An unknown name takes the transactional path (a ghost row) and still gets a held
    state; its finish fails like a wrong password, never as 'unknown attempt'."""
    out, state = _start(core, account="nobody")
    assert isinstance(out["login_state"], str) and out["attempts_left"] == 9
    with pytest.raises(InvalidLogin):  # a fake KE2 opens for no password
        _ke3(out, state)
    with pytest.raises(LoginFailed) as info:
        _finish(core, out, os.urandom(64), login_state=out["login_state"])
    assert info.value.extra["attempts_left"] == 9
    again, _ = _start(core, account="nobody")  # the ghost row now exists: the fast spend
    assert again["attempts_left"] == 8 and "login_state" in again


def test_a_first_seen_name_without_its_state_answers_like_a_known_one(
    core: VaultCore, store: SqlStore
) -> None:
    """The first held start for a name (the ghost row is made in that transaction) stores no
    state either: its finish without ``login_state`` is the same 400 a registered account gets,
    so leaving the state out cannot tell never-tried names from others."""
    _register(core)
    for account in ("amy", "nobody"):
        out, _ = _start(core, account=account)
        assert _pending_sealed(store, out["attempt_id"]) == b""
        with pytest.raises(BadRequest, match="login_state"):
            _finish(core, out, os.urandom(64))
        assert _pending_sealed(store, out["attempt_id"]) == b""  # nothing consumed


def test_stored_and_held_logins_side_by_side(core: VaultCore, store: SqlStore) -> None:
    _register(core)
    held, held_state = _start(core)
    state, ke1 = client_login_start(PW)
    stored = core.recover_start({"account": "amy", "ke1": wire.b64e(ke1)}, CTX)
    assert "login_state" not in stored and _pending_sealed(store, stored["attempt_id"])
    ke3, _ = _ke3(stored, state)
    assert _finish(core, stored, ke3)["attempts_left"] == 10
    ke3, _ = _ke3(held, held_state)
    # the account's allowance was restored meanwhile; the held attempt still finishes
    assert _finish(core, held, ke3, login_state=held["login_state"])["attempts_left"] == 10


def test_an_expired_held_attempt_counts_and_says_so(core: VaultCore, store: SqlStore) -> None:
    """Past its expiry the held state still opens, but the finish is refused and the attempt
    counts (as a stored one does)."""
    clock = Clock()
    core = VaultCore(core.setup, store, SETTINGS, clock=clock)
    _register(core)
    out, state = _start(core)
    ke3, _ = _ke3(out, state)
    clock.now += SETTINGS.attempt_ttl + 1
    with pytest.raises(AttemptExpired) as info:
        _finish(core, out, ke3, login_state=out["login_state"])
    assert info.value.extra["attempts_left"] == 9
    assert core.attempts("amy", CTX)["attempts_left"] == 9
