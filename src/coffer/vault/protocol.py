"""The vault's request handlers, sans I/O: decoded JSON objects in, JSON objects out.

Rules:

- No HTTP, no sockets, no global clock or RNG: the clock and the RNG are injected, the store and
  the unsealed :class:`ServerSetup` are given. Failures are :class:`RequestRefused` subclasses.
- Every KE2 costs one attempt: it is built from the account row just read and leaves the flow
  only after the statement that spends the attempt (if that row is unchanged) and stores the
  sealed server state has committed, so no KE2 can reach the network before its attempt is
  durable (:meth:`VaultCore.recover_start_flow`; the flows and their fallbacks to the store's
  transactional methods are in :mod:`coffer.vault.fastpath`).
- The server login state between KE2 and KE3 never stays in memory. The attempt is a pending
  row under a random 128-bit attempt ID that the store consumes exactly once (``DELETE …
  RETURNING``); the state is sealed under ``HKDF(server setup, "coffer-vault/v1/login-state")``
  with the attempt ID, account and generation as associated data and stored in that row — or,
  when the client asks (``client_state``), sealed under ``HKDF(server setup,
  "coffer-vault/v1/held-login-state")`` with the attempt ID as associated data and handed to
  the client (``login_state``), which sends it back with KE3. Any node sharing the database
  can finish either. A held attempt is spent, and its KE1 checked, before KE2 is built.
- An OPRF evaluation is given out only (a) for an account that has no record yet (registration,
  under a credential identifier drawn fresh for this registration), (b) inside a counted KE2, or
  (c) after a verified KE3 (change password). So one attempt never tests more than one password.
- Change password and delete are authorised by a fresh login *and* a MAC under a key derived from
  its session key, so a captured KE3 cannot be replayed for another operation.

Theory of operation — the flows (see docs/vault-api.md for the wire format):
register: ``register_start`` (OPRF) → ``register_finish`` (record + V sealed by the client).
recover: ``recover_start`` (KE1 → KE2, attempt spent) → ``recover_finish`` (KE3 → V sealed again
under the session key, allowance restored) or ``recover_abort`` (the client saw a wrong password).
change password: ``recover_start`` → ``password_change`` (KE3 + new registration request → OPRF
answer + single-use grant) → ``password_commit`` (new record + V, swapped in one statement).
delete: ``recover_start`` → ``account_delete`` (KE3 + MAC).
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from typing import Any

from coffer.opaque import (
    KE1_LEN,
    KE3_LEN,
    RECORD_LEN,
    REGISTRATION_REQUEST_LEN,
    Config,
    EncodingError,
    IdentityKSF,
    InvalidLogin,
    MisuseError,
    ServerLoginState,
    ServerSetup,
    check_ke1,
    server_login_finish,
    server_login_start,
    server_registration_finish,
    server_registration_response,
)
from coffer.vault import _crypto, wire
from coffer.vault.errors import (
    AccountExists,
    AttemptExpired,
    BadRequest,
    Conflict,
    LoginFailed,
    RateLimited,
    VaultLocked,
)
from coffer.vault.fastpath import (
    Blocking,
    Charge,
    FinishOk,
    Flow,
    ReadAttempt,
    ReadPending,
    SpendAttempt,
    SpendFresh,
    TakeCharges,
    drive_sync,
)
from coffer.vault.settings import LEGACY_CONTEXT, VaultSettings
from coffer.vault.store import (
    LOCKED,
    Action,
    AttemptRow,
    AuditContext,
    Finish,
    GrantSpec,
    NewRecord,
    Outcome,
    PendingRow,
    SqlStore,
)

__all__ = ["API_VERSION", "CONTEXT", "LEGACY_CONTEXT", "SUITE", "VaultCore", "VaultSettings"]

CONTEXT = VaultSettings().context  # the default: empty, as stock opaque-ke bindings need
SUITE = "OPAQUE-3DH ristretto255-SHA512"
API_VERSION = "v1"


class VaultCore:
    """One vault node's protocol logic over a store and an unsealed server setup."""

    def __init__(
        self,
        setup: ServerSetup,
        store: SqlStore,
        settings: VaultSettings | None = None,
        *,
        clock: Callable[[], float],
        rng: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.setup = setup
        self.store = store
        self.clock = clock
        self.rng = rng
        self._state_key = _crypto.derive(setup.to_bytes(), _crypto.LABEL_STATE)
        self._held_key = _crypto.derive(setup.to_bytes(), _crypto.LABEL_HELD_STATE)
        self.after_attempt_commit: Callable[[], None] | None = None
        self.follow_stored_settings = False
        self.apply(settings or VaultSettings())

    def apply(self, settings: VaultSettings) -> None:
        """Switch to new settings (a node re-reads the stored ones every few seconds)."""
        self.config = Config(context=settings.context, ksf=IdentityKSF())
        self._default_ksf = wire.ksf_canonical(wire.ksf_from_json(settings.default_ksf))
        self.store.max_attempts = settings.max_attempts
        self.settings = settings

    def refresh_settings(self) -> bool:
        """Re-read the stored settings if this node follows them; True if they changed."""
        if not self.follow_stored_settings:
            return False
        from coffer.vault.settings import META_SETTINGS, decode

        fresh = decode(self.store.get_meta(META_SETTINGS), self.settings.node)
        if fresh == self.settings:
            return False
        self.apply(fresh)
        return True

    def __repr__(self) -> str:
        return f"VaultCore(store={self.store!r}, public_key={self.setup.public_key.hex()})"

    # -- info ------------------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        s = self.settings
        return {
            "version": API_VERSION,
            "suite": SUITE,
            "context": s.context.decode("ascii"),
            "identities": "public-keys",
            "public_key": wire.b64e(self.setup.public_key),
            "fingerprint": _crypto.fingerprint(self.setup.public_key),
            "max_attempts": s.max_attempts,
            "attempt_ttl": s.attempt_ttl,
            "default_ksf": s.default_ksf,
            "accepted_ksf": s.accepted_ksf(),
            "witness": True,
            "client_state": True,
        }

    def attempts(self, account: str, ctx: AuditContext) -> dict[str, Any]:
        left, locked = self.store.attempts_left(wire.check_account(account), self.clock(), ctx)
        return {"account": account, "attempts_left": left, "locked": locked}

    # -- registration ----------------------------------------------------------------------
    def register_start(self, body: dict[str, Any], ctx: AuditContext) -> dict[str, Any]:
        account = wire.field_account(body)
        request = wire.field_bytes(body, "registration_request", length=REGISTRATION_REQUEST_LEN)
        self._refuse_existing(self.store.account_state(account))
        reg_id = self.rng(wire.ID_LEN)
        response = self._oprf_response(request, wire.credential_identifier(account, reg_id))
        return {"registration_response": wire.b64e(response), "registration_id": wire.b64e(reg_id)}

    def register_finish(self, body: dict[str, Any], ctx: AuditContext) -> dict[str, Any]:
        new = self._new_record(body, wire.field_bytes(body, "registration_id", length=wire.ID_LEN))
        self._refuse_existing(self.store.register(new, self.clock(), ctx))
        return {"account": new.account, "attempts_left": self.store.max_attempts}

    # -- login -----------------------------------------------------------------------------
    def recover_start(
        self, body: dict[str, Any], ctx: AuditContext, charges: tuple[Charge, ...] = ()
    ) -> dict[str, Any]:
        return drive_sync(self.recover_start_flow(body, ctx, charges), self.store)

    def recover_finish(
        self, body: dict[str, Any], ctx: AuditContext, charges: tuple[Charge, ...] = ()
    ) -> dict[str, Any]:
        return drive_sync(self.recover_finish_flow(body, ctx, charges), self.store)

    def recover_start_flow(
        self, body: dict[str, Any], ctx: AuditContext, charges: tuple[Charge, ...]
    ) -> Flow[dict[str, Any]]:
        """KE1 → KE2 (:mod:`coffer.vault.fastpath`): the attempt is spent and committed, with
        the sealed state, before the answer exists outside this flow."""
        now = self.clock()
        try:
            account = wire.field_account(body)
            ke1 = wire.field_bytes(body, "ke1", length=KE1_LEN)
            held = wire.field_flag(body, "client_state")
            if held:
                _check_ke1(ke1)  # before the attempt is spent: a bad KE1 costs no guess
        except BadRequest:
            yield from self._charge(charges, now)
            raise
        if held:
            return (yield from self._start_held(account, ke1, charges, now, ctx))
        wait, row = yield ReadAttempt(account, charges, now)
        if wait:
            raise RateLimited("too many requests; slow down", retry_after=wait)
        if row is not None and row.attempts_left > 0:
            pending, answer = self._answer_ke1(row, ke1, now)
            left = yield SpendAttempt(row, pending, now, ctx)
            if left is not None:
                answer["attempts_left"] = left
                self._committed()
                return answer
        ghost = (self.rng(wire.ID_LEN), self._default_ksf)

        def build(row: AttemptRow) -> tuple[PendingRow, dict[str, Any]]:
            return self._answer_ke1(row, ke1, now)

        result = yield Blocking(lambda: self.store.take_attempt(account, ghost, now, ctx, build))
        if result is None:
            raise VaultLocked("the password route of this account is locked", attempts_left=0)
        self._committed()
        return result  # type: ignore[no-any-return]

    def _start_held(
        self, account: str, ke1: bytes, charges: tuple[Charge, ...], now: float, ctx: AuditContext
    ) -> Flow[dict[str, Any]]:
        """``recover/start`` with ``client_state``: one statement spends the attempt and stores
        the pending row, and KE2 is built from the row it returned, after its commit; the
        sealed server state goes to the client (``login_state``) instead of the database."""
        attempt_id = self.rng(wire.ID_LEN)
        expires = now + self.settings.attempt_ttl
        wait, row = yield SpendFresh(account, attempt_id, charges, now, expires, ctx)
        if wait:
            raise RateLimited("too many requests; slow down", retry_after=wait)

        def build(spent: AttemptRow) -> tuple[PendingRow, dict[str, Any]]:
            """KE2 and the held state for ``spent``; the pending row stores no state either way,
            so a first-seen name (a ghost made here) finishes exactly like any other."""
            pending = PendingRow(attempt_id, account, "login", spent.generation, b"", expires)
            state, answer = self._ke2(spent, ke1, attempt_id)
            answer["login_state"] = self._hold(state, pending)
            return pending, answer

        if row is not None:
            self._committed()
            return build(row)[1]
        ghost = (self.rng(wire.ID_LEN), self._default_ksf)
        result = yield Blocking(lambda: self.store.take_attempt(account, ghost, now, ctx, build))
        if result is None:
            raise VaultLocked("the password route of this account is locked", attempts_left=0)
        self._committed()
        return result  # type: ignore[no-any-return]

    def recover_finish_flow(
        self, body: dict[str, Any], ctx: AuditContext, charges: tuple[Charge, ...]
    ) -> Flow[dict[str, Any]]:
        """KE3 → V sealed under the session key; the allowance restored in the same commit."""
        now = self.clock()
        try:
            attempt_id = wire.field_bytes(body, "attempt_id", length=wire.ID_LEN)
            ke3 = wire.field_bytes(body, "ke3", length=KE3_LEN)
            held = self._held(body, attempt_id)
        except BadRequest:
            yield from self._charge(charges, now)
            raise
        # A finish for a live attempt takes no token: its start took them, and an attempt
        # finishes at most once, so uncharged finishes never outnumber charged starts. Any
        # other finish (an unknown, used or junk attempt ID) is charged before it is answered.
        keys: dict[str, bytes] = {}
        verify = self._verifier(ke3, keys, None, held)
        if held is not None:  # the state came back with the request: no read before the finish
            pending: PendingRow | None = held[1]
            live = True
        else:
            _wait, pending = yield ReadPending(attempt_id, (), now)
            if pending is None:
                yield from self._charge(charges, now)
                raise AttemptExpired("unknown, used or expired attempt")
            live = pending.expires_at > now
        done: Finish[bytes] | None = None
        if pending is not None and live and verify(pending):
            ok = yield FinishOk(pending, now, ctx)
            if ok == "conflict":
                done = Finish(Outcome.CONFLICT, pending.account)
            elif ok is not None:
                done = Finish(Outcome.OK, pending.account, ok[1], False, ok[0])
        if done is None:  # expired, not verified, or gone meanwhile: the transactional path
            done = yield Blocking(
                lambda: self.store.finish_login(attempt_id, now, ctx, verify, Action.RECOVER)
            )
        assert done is not None
        if done.outcome is Outcome.EXPIRED and not done.account:
            yield from self._charge(charges, now)  # another finish consumed it meanwhile
        self._check_finish(done)
        assert done.value is not None
        release_key = _crypto.derive(keys["session"], _crypto.LABEL_RELEASE)
        sealed = _crypto.seal(release_key, done.value, b"release" + attempt_id)
        return {"sealed_secret": wire.b64e(sealed), "attempts_left": done.attempts_left}

    @staticmethod
    def _charge(charges: tuple[Charge, ...], now: float) -> Flow[None]:
        """Take the request's tokens for a request refused before the store (still counted)."""
        if charges:
            wait = yield TakeCharges(charges, now)
            if wait:
                raise RateLimited("too many requests; slow down", retry_after=wait)

    def _committed(self) -> None:
        if self.after_attempt_commit is not None:
            self.after_attempt_commit()

    def recover_abort(self, body: dict[str, Any], ctx: AuditContext) -> dict[str, Any]:
        attempt_id = wire.field_bytes(body, "attempt_id", length=wire.ID_LEN)
        done = self.store.abort_login(attempt_id, self.clock(), ctx)
        if done.outcome is Outcome.EXPIRED:
            raise AttemptExpired("unknown, used or expired attempt")
        return {"attempts_left": done.attempts_left, "locked": done.locked}

    # -- change password and delete --------------------------------------------------------
    def password_change(self, body: dict[str, Any], ctx: AuditContext) -> dict[str, Any]:
        attempt_id = wire.field_bytes(body, "attempt_id", length=wire.ID_LEN)
        ke3 = wire.field_bytes(body, "ke3", length=KE3_LEN)
        request = wire.field_bytes(body, "registration_request", length=REGISTRATION_REQUEST_LEN)
        tag = wire.field_bytes(body, "auth", length=wire.AUTH_LEN)
        held = self._held(body, attempt_id)
        keys: dict[str, bytes] = {}
        verify = self._verifier(
            ke3, keys, lambda k: _crypto.mac_ok(k, tag, b"change", attempt_id, request), held
        )
        grant_id, reg_id = self.rng(wire.ID_LEN), self.rng(wire.ID_LEN)
        out: dict[str, Any] = {}

        def grant(p: PendingRow) -> GrantSpec:
            cred = wire.credential_identifier(p.account, reg_id)
            out["registration_response"] = wire.b64e(self._oprf_response(request, cred))
            auth_key = _crypto.derive(keys["session"], _crypto.LABEL_AUTH)
            sealed = _crypto.seal(self._state_key, auth_key + reg_id, self._grant_ad(grant_id, p))
            return GrantSpec(grant_id, sealed, self.clock() + self.settings.grant_ttl)

        done = self.store.finish_login(
            attempt_id, self.clock(), ctx, verify, Action.GRANT, grant=grant
        )
        self._check_finish(done)
        assert done.value is not None
        release_key = _crypto.derive(keys["session"], _crypto.LABEL_RELEASE)
        sealed = _crypto.seal(release_key, done.value, b"release" + attempt_id)
        out.update(
            sealed_secret=wire.b64e(sealed),
            grant_id=wire.b64e(grant_id),
            registration_id=wire.b64e(reg_id),
            expires_in=self.settings.grant_ttl,
        )
        return out

    def password_commit(self, body: dict[str, Any], ctx: AuditContext) -> dict[str, Any]:
        grant_id = wire.field_bytes(body, "grant_id", length=wire.ID_LEN)
        tag = wire.field_bytes(body, "auth", length=wire.AUTH_LEN)
        new = self._new_record(body, b"")
        found: dict[str, bytes] = {}

        def verify(p: PendingRow) -> bool:
            try:
                opened = _crypto.open_sealed(self._state_key, p.sealed, self._grant_ad(grant_id, p))
            except _crypto.OpenFailed:
                return False
            found["reg_id"] = opened[32:]
            parts = (b"commit", grant_id, new.record, new.secret, new.ksf.encode())
            return p.account == new.account and _crypto.mac_ok(opened[:32], tag, *parts)

        def build(p: PendingRow) -> NewRecord:
            return NewRecord(new.account, found["reg_id"], new.record, new.secret, new.ksf)

        done = self.store.commit_change(grant_id, self.clock(), ctx, verify, build)
        if done.outcome is Outcome.FAILED:
            raise LoginFailed("the password change was not authorised by this grant")
        self._check_finish(done)
        return {"account": new.account, "attempts_left": done.attempts_left}

    def account_delete(self, body: dict[str, Any], ctx: AuditContext) -> dict[str, Any]:
        attempt_id = wire.field_bytes(body, "attempt_id", length=wire.ID_LEN)
        ke3 = wire.field_bytes(body, "ke3", length=KE3_LEN)
        tag = wire.field_bytes(body, "auth", length=wire.AUTH_LEN)
        held = self._held(body, attempt_id)
        keys: dict[str, bytes] = {}
        verify = self._verifier(
            ke3, keys, lambda k: _crypto.mac_ok(k, tag, b"delete", attempt_id), held
        )
        done = self.store.finish_login(attempt_id, self.clock(), ctx, verify, Action.DELETE)
        self._check_finish(done)
        return {"deleted": True}

    # -- internals -------------------------------------------------------------------------
    def _answer_ke1(
        self, row: AttemptRow, ke1: bytes, now: float
    ) -> tuple[PendingRow, dict[str, Any]]:
        """KE2 for ``row`` and the pending row that stores its sealed state."""
        state, answer = self._ke2(row, ke1, None)
        attempt_id = wire.b64d(answer["attempt_id"])
        pending = PendingRow(attempt_id, row.account, "login", row.generation, b"", 0.0)
        sealed = _crypto.seal(self._state_key, state, self._state_ad(pending))
        expires = now + self.settings.attempt_ttl
        pending = PendingRow(attempt_id, row.account, "login", row.generation, sealed, expires)
        return pending, answer

    def _ke2(
        self, row: AttemptRow, ke1: bytes, attempt_id: bytes | None
    ) -> tuple[bytes, dict[str, Any]]:
        """(the server login state, the answer carrying KE2); a fresh attempt ID is drawn
        after the OPAQUE randomness unless one is given."""
        cred = wire.credential_identifier(row.account, row.cred_id)
        try:
            state, ke2 = server_login_start(
                self.setup, row.record, ke1, cred, self.config, rng=self.rng
            )
        except (EncodingError, InvalidLogin, MisuseError):
            raise BadRequest("field 'ke1' is not a valid KE1") from None
        attempt_id = self.rng(wire.ID_LEN) if attempt_id is None else attempt_id
        answer = {
            "attempt_id": wire.b64e(attempt_id),
            "ke2": wire.b64e(ke2),
            "attempts_left": row.attempts_left,
            "ksf": _stored_ksf(row.ksf),
            "expires_in": self.settings.attempt_ttl,
        }
        return state.to_bytes(), answer

    def _hold(self, state: bytes, p: PendingRow) -> str:
        """The client-held login state (``login_state``): version 1 ‖ XChaCha20-Poly1305 under
        the held-state key of generation (8 bytes) ‖ state length (2) ‖ state ‖ account, with
        the attempt ID as associated data."""
        plain = p.generation.to_bytes(8, "big") + len(state).to_bytes(2, "big") + state
        return wire.b64e(
            HELD_VERSION + _crypto.seal(self._held_key, plain + p.account.encode(), p.id)
        )

    def _held(self, body: dict[str, Any], attempt_id: bytes) -> tuple[bytes, PendingRow] | None:
        """The request's ``login_state`` opened: (state, the pending row it stands for), or
        None without one. One that does not open for this attempt is a bad request."""
        if "login_state" not in body:
            return None
        token = wire.field_bytes(body, "login_state", min_len=1, max_len=wire.MAX_HELD_STATE)
        try:
            if token[:1] != HELD_VERSION:
                raise _crypto.OpenFailed("unknown version")
            plain = _crypto.open_sealed(self._held_key, token[1:], attempt_id)
            size = int.from_bytes(plain[8:10], "big")
            state, account = plain[10 : 10 + size], plain[10 + size :].decode()
            generation = int.from_bytes(plain[:8], "big")
        except (_crypto.OpenFailed, UnicodeDecodeError):
            raise BadRequest("field 'login_state' is not this attempt's login state") from None
        return state, PendingRow(attempt_id, account, "login", generation, b"", 0.0)

    def _verifier(
        self,
        ke3: bytes,
        keys: dict[str, bytes],
        extra: Callable[[bytes], bool | None] | None,
        held: tuple[bytes, PendingRow] | None = None,
    ) -> Callable[[PendingRow], bool]:
        """KE3's check on a pending row; ``extra`` (given the auth key) must not say False.
        Without ``extra`` (a recovery) no auth key is derived. The state is the row's sealed
        one, or for a client-held attempt the one ``held`` came back with; a client-held
        attempt finished without its state is a bad request (nothing consumed)."""

        def verify(p: PendingRow) -> bool:
            try:
                if p.sealed:
                    blob = _crypto.open_sealed(self._state_key, p.sealed, self._state_ad(p))
                elif held is None:
                    raise BadRequest("this attempt's state is held by the client: send login_state")
                elif (held[1].account, held[1].generation) != (p.account, p.generation):
                    return False
                else:
                    blob = held[0]
                keys["session"] = server_login_finish(ServerLoginState.from_bytes(blob), ke3)
            except (_crypto.OpenFailed, InvalidLogin, EncodingError, MisuseError):
                return False
            if extra is None:
                return True
            auth_key = _crypto.derive(keys["session"], _crypto.LABEL_AUTH)
            return extra(auth_key) is not False

        return verify

    @staticmethod
    def _state_ad(p: PendingRow) -> bytes:
        return b"login-state" + p.id + p.generation.to_bytes(8, "big") + p.account.encode()

    @staticmethod
    def _grant_ad(grant_id: bytes, p: PendingRow) -> bytes:
        return b"grant" + grant_id + p.generation.to_bytes(8, "big") + p.account.encode()

    def _oprf_response(self, request: bytes, cred: bytes) -> bytes:
        try:
            return server_registration_response(self.setup, request, cred)
        except (EncodingError, MisuseError):
            raise BadRequest("field 'registration_request' is not a valid element") from None

    def _new_record(self, body: dict[str, Any], cred_id: bytes) -> NewRecord:
        account = wire.field_account(body)
        record = wire.field_bytes(body, "record", length=RECORD_LEN)
        secret = wire.field_bytes(
            body, "sealed_secret", min_len=wire.MIN_SECRET, max_len=wire.MAX_SECRET
        )
        ksf = wire.ksf_from_json(body.get("ksf"))
        if isinstance(ksf, IdentityKSF) and not self.settings.allow_identity_ksf:
            raise BadRequest("this vault refuses the identity KSF; use argon2id")
        if not self.settings.accepts(wire.ksf_to_json(ksf)):
            raise BadRequest(
                "this vault accepts only the KSFs listed in /v1/info accepted_ksf "
                "(exact parameters every standard OPAQUE client can compute)"
            )
        try:
            record = server_registration_finish(record)
        except (EncodingError, MisuseError):
            raise BadRequest("field 'record' is not a valid OPAQUE record") from None
        return NewRecord(account, cred_id, record, secret, wire.ksf_canonical(ksf))

    @staticmethod
    def _refuse_existing(state: str | None) -> None:
        if state == LOCKED:
            raise VaultLocked("this account is locked", attempts_left=0)
        if state is not None and state != "ghost":
            raise AccountExists("the account exists; log in and change the password instead")

    @staticmethod
    def _check_finish(done: Finish[bytes]) -> None:
        if done.outcome is Outcome.OK:
            return
        if done.outcome is Outcome.EXPIRED and done.locked:
            raise VaultLocked(
                "the attempt expired; the password route is now locked", attempts_left=0
            )
        if done.outcome is Outcome.EXPIRED and done.account:
            raise AttemptExpired("the attempt expired; it counts", attempts_left=done.attempts_left)
        if done.outcome is Outcome.EXPIRED:
            raise AttemptExpired("unknown, used or expired attempt")
        if done.outcome is Outcome.CONFLICT:
            raise Conflict("the account changed during this login; start again")
        if done.locked:
            raise VaultLocked("login failed; the password route is now locked", attempts_left=0)
        raise LoginFailed("login failed", attempts_left=done.attempts_left)


HELD_VERSION = b"\x01"


def _check_ke1(ke1: bytes) -> None:
    """Refuse a KE1 whose elements do not decode (what ``server_login_start`` would refuse)."""
    try:
        check_ke1(ke1)
    except (EncodingError, InvalidLogin, MisuseError):
        raise BadRequest("field 'ke1' is not a valid KE1") from None


def _json_obj(text: str) -> Any:
    return json.loads(text)


@functools.lru_cache(maxsize=256)
def _parsed_ksf(text: str) -> tuple[tuple[str, Any], ...]:
    return tuple(wire.ksf_to_json(wire.ksf_from_json(_json_obj(text))).items())


def _stored_ksf(text: str) -> dict[str, Any]:
    """An account's stored KSF text, checked and re-encoded as its answer field. Accounts share
    a handful of KSF texts, so each is parsed once (a fresh dict each time: answers are mutable)."""
    return dict(_parsed_ksf(text))
