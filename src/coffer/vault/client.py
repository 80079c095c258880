"""The vault client the CLI uses: OPAQUE flows over HTTP (httpx), with the vault key pinned.

Rules:

- The vault's public key is pinned: given by the caller (``pinned_key``), or trusted on first use
  and recorded in a known-vaults file (JSON, mode 0600) keyed by the vault URL, shown to the user
  as a fingerprint. A different key is refused with :class:`VaultKeyMismatch` before any password
  is used. The pin is also passed into OPAQUE (``Config.pinned_server_public_key``), so a
  registration response or a KE2 made with another key fails even if ``/v1/info`` lied.
- V never leaves the client in clear: it is sealed under ``HKDF(export_key, "…/escrow")`` with the
  account name as associated data before upload; on recovery the vault's answer is opened twice
  (release layer under the session key, then the escrow layer).
- A wrong password is detected on the client (the envelope does not open); the client then tells
  the vault to end the attempt (``/v1/recover/abort``) and raises :class:`WrongPassword` with the
  attempts left. The attempt was spent when the KE2 was issued, whatever the client does.
- Only :mod:`coffer.vault.errors` classes escape; transport failures are
  :class:`VaultUnavailable`, malformed answers :class:`VaultProtocolError`.

Theory of operation: each public method is one flow of :mod:`coffer.vault.protocol`, driven
with the sans-I/O functions of :mod:`coffer.opaque`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from coffer.opaque import (
    KSF,
    REGISTRATION_RESPONSE_LEN,
    Argon2idKSF,
    Config,
    EncodingError,
    InvalidLogin,
    MisuseError,
    OpaqueError,
    client_login_finish,
    client_login_start,
    client_registration_finish,
    client_registration_start,
)
from coffer.vault import _crypto, wire
from coffer.vault.errors import (
    AccountExists,
    AttemptExpired,
    BadRequest,
    Conflict,
    RateLimited,
    RequestRefused,
    TooLarge,
    UnsupportedMediaType,
    VaultConfigError,
    VaultKeyMismatch,
    VaultLocked,
    VaultProtocolError,
    VaultUnavailable,
    WrongPassword,
)
from coffer.vault.known_vaults import KnownVaults

_CODES: dict[str, type[RequestRefused]] = {
    "bad_request": BadRequest,
    "account_exists": AccountExists,
    "conflict": Conflict,
    "attempt_expired": AttemptExpired,
    "too_large": TooLarge,
    "unsupported_media_type": UnsupportedMediaType,
    "locked": VaultLocked,
    "rate_limited": RateLimited,
}


@dataclass(frozen=True)
class VaultInfo:
    """What ``/v1/info`` says (after the key was checked against the pin)."""

    url: str
    public_key: bytes
    fingerprint: str
    suite: str
    max_attempts: int
    default_ksf: KSF
    context: bytes = b""


@dataclass
class _Login:
    attempt_id: bytes
    ke3: bytes
    session_key: bytes
    export_key: bytes
    attempts_left: int
    login_state: str | None = None  # the vault's sealed login state, when the client holds it

    def held(self) -> dict[str, str]:
        """The ``login_state`` field to send back with the login's end, if there is one."""
        return {} if self.login_state is None else {"login_state": self.login_state}

    def __repr__(self) -> str:
        return f"_Login(attempts_left={self.attempts_left}, keys=<redacted>)"


class VaultClient:
    """A client of one vault. ``transport`` may be an ``httpx.BaseTransport`` or a whole
    ``httpx.Client`` (e.g. Starlette's ``TestClient``) for in-process tests."""

    def __init__(
        self,
        url: str,
        *,
        pinned_key: bytes | None = None,
        known_vaults_path: Path | None = None,
        transport: httpx.BaseTransport | httpx.Client | None = None,
        timeout: float = 10.0,
        expected_fingerprint: str | None = None,
        min_ksf: Argon2idKSF | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.pinned_key = pinned_key
        self.expected_fingerprint = expected_fingerprint
        self.min_ksf = min_ksf_from_env() if min_ksf is None else min_ksf
        self.known_vaults_path = known_vaults_path
        if isinstance(transport, httpx.Client):
            self._http = transport
        else:
            self._http = httpx.Client(transport=transport, timeout=timeout)
        self._info: VaultInfo | None = None

    def __repr__(self) -> str:
        return f"VaultClient({self.url!r})"

    @property
    def http(self) -> httpx.Client:
        """The HTTP client (shared by :class:`coffer.freshness.witness_client.WitnessClient`)."""
        return self._http

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> VaultClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public API ------------------------------------------------------------------------
    def info(self) -> VaultInfo:
        """Fetch ``/v1/info`` and check the key against the pin (or pin it on first use)."""
        if self._info is None:
            body = self._call("GET", "/v1/info")
            key = self._bytes(body, "public_key", 32)
            self._check_pin(key)
            self._info = VaultInfo(
                self.url,
                key,
                _crypto.fingerprint(key),
                str(body.get("suite")),
                int(body.get("max_attempts", 0)),
                self._ksf(body.get("default_ksf")),
                self._context(body.get("context", "")),
            )
        return self._info

    def register(
        self, account: str, password: bytes, secret: bytes, ksf: KSF | None = None
    ) -> None:
        """First registration of ``account``: escrow ``secret`` (V) behind ``password``."""
        wire.check_account(account)
        ksf = self._strong_enough(ksf or self.info().default_ksf)
        state, request = client_registration_start(password)
        start = self._post("/v1/register/start", account=account, registration_request=request)
        record, export_key = self._finish_registration(state, start, ksf)
        self._post(
            "/v1/register/finish",
            account=account,
            registration_id=self._bytes(start, "registration_id", wire.ID_LEN),
            record=record,
            sealed_secret=self._escrow(export_key, account, secret),
            ksf=wire.ksf_to_json(ksf),
        )

    def recover(self, account: str, password: bytes) -> bytes:
        """Log in and return V; raises WrongPassword, VaultLocked or VaultUnavailable."""
        login = self._login(account, password)
        body = self._post_login_end(
            "/v1/recover/finish", login, attempt_id=login.attempt_id, ke3=login.ke3, **login.held()
        )
        return self._open_secret(body, login, login.export_key, account)

    def change_password(self, account: str, old: bytes, new: bytes, ksf: KSF | None = None) -> None:
        """Replace the record: log in with ``old``, re-register with ``new``, keep V."""
        ksf = self._strong_enough(ksf or self.info().default_ksf)
        login = self._login(account, old)
        state, request = client_registration_start(new)
        auth_key = _crypto.derive(login.session_key, _crypto.LABEL_AUTH)
        grant = self._post_login_end(
            "/v1/password/change",
            login,
            attempt_id=login.attempt_id,
            ke3=login.ke3,
            registration_request=request,
            auth=_crypto.mac(auth_key, b"change", login.attempt_id, request),
            **login.held(),
        )
        secret = self._open_secret(grant, login, login.export_key, account)
        record, export_key = self._finish_registration(state, grant, ksf)
        sealed = self._escrow(export_key, account, secret)
        grant_id = self._bytes(grant, "grant_id", wire.ID_LEN)
        ksf_text = wire.ksf_canonical(ksf).encode()
        self._post(
            "/v1/password/commit",
            grant_id=grant_id,
            account=account,
            record=record,
            sealed_secret=sealed,
            ksf=wire.ksf_to_json(ksf),
            auth=_crypto.mac(auth_key, b"commit", grant_id, record, sealed, ksf_text),
        )

    def delete(self, account: str, password: bytes) -> None:
        """Delete the account's record and escrowed secret (after a fresh login)."""
        login = self._login(account, password)
        auth_key = _crypto.derive(login.session_key, _crypto.LABEL_AUTH)
        self._post_login_end(
            "/v1/account/delete",
            login,
            attempt_id=login.attempt_id,
            ke3=login.ke3,
            auth=_crypto.mac(auth_key, b"delete", login.attempt_id),
            **login.held(),
        )

    def attempts_left(self, account: str) -> int:
        """How many password guesses remain for ``account`` (0 when locked)."""
        wire.check_account(account)
        body = self._call("GET", "/v1/attempts", params={"account": account})
        return self._int(body, "attempts_left")

    def account_available(self, account: str) -> bool:
        """True when ``account`` could be registered now; False when the vault refuses the name
        (in use or locked). Asks ``register/start`` with a throwaway request: the vault stores
        nothing for it, and registration reveals whether a name is taken anyway."""
        wire.check_account(account)
        self.info()
        _state, request = client_registration_start(os.urandom(32))
        try:
            self._post("/v1/register/start", account=account, registration_request=request)
        except (AccountExists, VaultLocked):
            return False
        return True

    # -- flows -----------------------------------------------------------------------------
    def _config(self, ksf: KSF) -> Config:
        info = self.info()
        return Config(context=info.context, ksf=ksf, pinned_server_public_key=info.public_key)

    def _login(self, account: str, password: bytes) -> _Login:
        wire.check_account(account)
        self.info()
        state, ke1 = client_login_start(password)
        # client_state: the vault hands its sealed login state to us instead of storing it (two
        # database round trips fewer per login); a vault that does not know it stores it
        start = self._post("/v1/recover/start", account=account, ke1=ke1, client_state=True)
        attempt_id = self._bytes(start, "attempt_id", wire.ID_LEN)
        held = start.get("login_state")
        if held is not None and (not isinstance(held, str) or len(held) > 1024):
            raise VaultProtocolError("vault answer: login_state must be a short string")
        left = self._int(start, "attempts_left")
        ksf = self._ksf(start.get("ksf"))
        try:
            ke3, session, export = client_login_finish(
                state, self._bytes(start, "ke2", None), self._config(ksf)
            )
        except (InvalidLogin, EncodingError):
            raise WrongPassword(self._abort(attempt_id, left)) from None
        return _Login(attempt_id, ke3, session, export, left, held)

    def _abort(self, attempt_id: bytes, left: int) -> int:
        try:
            body = self._post("/v1/recover/abort", attempt_id=attempt_id)
            return self._int(body, "attempts_left")
        except (AttemptExpired, VaultUnavailable, VaultProtocolError):
            return left

    def _post_login_end(self, path: str, login: _Login, **fields: Any) -> dict[str, Any]:
        try:
            return self._post(path, **fields)
        except _LoginFailed as exc:
            raise WrongPassword(exc.attempts_left) from None

    def _finish_registration(
        self, state: Any, start: dict[str, Any], ksf: KSF
    ) -> tuple[bytes, bytes]:
        response = self._bytes(start, "registration_response", REGISTRATION_RESPONSE_LEN)
        try:
            record, export_key = client_registration_finish(state, response, self._config(ksf))
        except (InvalidLogin, EncodingError, MisuseError):
            raise VaultKeyMismatch(
                "the vault's registration answer does not use the pinned vault key"
            ) from None
        return record, export_key

    @staticmethod
    def _escrow(export_key: bytes, account: str, secret: bytes) -> bytes:
        key = _crypto.derive(export_key, _crypto.LABEL_ESCROW)
        return _crypto.seal(key, secret, _escrow_ad(account))

    def _open_secret(
        self, body: dict[str, Any], login: _Login, export_key: bytes, account: str
    ) -> bytes:
        sealed = self._bytes(body, "sealed_secret", None)
        release = _crypto.derive(login.session_key, _crypto.LABEL_RELEASE)
        escrow = _crypto.derive(export_key, _crypto.LABEL_ESCROW)
        try:
            inner = _crypto.open_sealed(release, sealed, b"release" + login.attempt_id)
            return _crypto.open_sealed(escrow, inner, _escrow_ad(account))
        except _crypto.OpenFailed:
            raise VaultProtocolError("the escrowed secret from the vault does not open") from None

    def _strong_enough(self, ksf: KSF) -> KSF:
        """Refuse password stretching below this device's floor, whoever asked for it.

        The vault advertises the KSF for new records, but ``/v1/info`` is not authenticated by
        OPAQUE: a network attacker (or the operator) could ask for a trivial cost and so make
        a stolen vault database cheap to attack offline.
        """
        floor = self.min_ksf
        weak = not isinstance(ksf, Argon2idKSF) or (
            ksf.memory_kib < floor.memory_kib or ksf.iterations < floor.iterations
        )
        if weak:
            raise VaultProtocolError(
                f"the vault asks for password stretching {ksf.describe()}, below this device's "
                f"floor {floor.describe()} (COFFER_VAULT_MIN_KSF); refusing to register"
            )
        return ksf

    # -- pinning ---------------------------------------------------------------------------
    def _check_pin(self, key: bytes) -> None:
        if self.pinned_key is not None:
            if key != self.pinned_key:
                raise VaultKeyMismatch(
                    f"vault {self.url} presents key {_crypto.fingerprint(key)}, "
                    f"expected {_crypto.fingerprint(self.pinned_key)}"
                )
            return
        if self.expected_fingerprint is not None:
            actual = _crypto.fingerprint(key)
            if actual != self.expected_fingerprint:  # checked before anything is remembered
                raise VaultKeyMismatch(
                    f"vault {self.url} presents key {actual}, but the pinned key is "
                    f"{self.expected_fingerprint}: refusing to send anything derived from the "
                    "password"
                )
        known = KnownVaults(self.known_vaults_path) if self.known_vaults_path else None
        if known is not None:
            known.check_or_add(self.url, key)
        self.pinned_key = key

    # -- HTTP ------------------------------------------------------------------------------
    def _post(self, path: str, **fields: Any) -> dict[str, Any]:
        body = {k: wire.b64e(v) if isinstance(v, bytes) else v for k, v in fields.items()}
        return self._call("POST", path, json_body=body)

    def _call(
        self,
        method: str,
        path: str,
        *,
        json_body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        try:
            resp = self._http.request(method, self.url + path, json=json_body, params=params)
        except httpx.HTTPError as exc:
            raise VaultUnavailable(f"vault {self.url} unreachable: {type(exc).__name__}") from None
        if resp.status_code >= 500:
            raise VaultUnavailable(f"vault {self.url} failed (HTTP {resp.status_code})")
        try:
            body = resp.json()
        except ValueError:
            raise VaultProtocolError(
                f"vault answered HTTP {resp.status_code} without JSON"
            ) from None
        if not isinstance(body, dict):
            raise VaultProtocolError("vault answer is not a JSON object")
        if resp.status_code >= 400:
            raise _refusal(resp.status_code, body)
        return body

    @staticmethod
    def _bytes(body: dict[str, Any], name: str, length: int | None) -> bytes:
        try:
            return wire.field_bytes(body, name, length=length, max_len=None if length else 4096)
        except BadRequest as exc:
            raise VaultProtocolError(f"vault answer: {exc}") from None

    @staticmethod
    def _int(body: dict[str, Any], name: str) -> int:
        value = body.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise VaultProtocolError(f"vault answer: {name} must be a non-negative integer")
        return value

    @staticmethod
    def _context(value: object) -> bytes:
        """The deployment's OPAQUE context (a wrong one only makes logins fail, and the
        pinned key inside OPAQUE still authenticates the vault)."""
        if not isinstance(value, str) or len(value) > 200 or not value.isascii():
            raise VaultProtocolError("vault answer: context must be a short ASCII string")
        return value.encode("ascii")

    @staticmethod
    def _ksf(value: object) -> KSF:
        try:
            return wire.ksf_from_json(value)
        except BadRequest as exc:
            raise VaultProtocolError(f"vault answer: {exc}") from None


class _LoginFailed(RequestRefused):
    status = 401
    code = "login_failed"

    @property
    def attempts_left(self) -> int:
        value = self.extra.get("attempts_left", 0)
        return value if isinstance(value, int) else 0


def _refusal(status: int, body: dict[str, Any]) -> RequestRefused:
    code = str(body.get("error", ""))
    message = str(body.get("message", f"HTTP {status}"))
    extra = {k: v for k, v in body.items() if k in ("attempts_left", "locked", "retry_after")}
    if code == "login_failed":
        return _LoginFailed(message, **extra)
    cls = _CODES.get(code, BadRequest)
    return cls(message, **extra)


MIN_KSF_DEFAULT = Argon2idKSF(memory_kib=19456, iterations=2, parallelism=1)


def min_ksf_from_env() -> Argon2idKSF:
    """The weakest Argon2id this device accepts: ``COFFER_VAULT_MIN_KSF=MEMORY_KIB,ITERATIONS``.

    The default is opaque-ke's (19 MiB, 2 passes), which every profile Coffer ships meets.
    """
    text = os.environ.get("COFFER_VAULT_MIN_KSF", "").strip()
    if not text:
        return MIN_KSF_DEFAULT
    try:
        memory, iterations = (int(x) for x in text.split(","))
        return Argon2idKSF(memory_kib=memory, iterations=iterations, parallelism=1)
    except (ValueError, OpaqueError):
        raise VaultConfigError(
            f"COFFER_VAULT_MIN_KSF must be MEMORY_KIB,ITERATIONS, not {text!r}"
        ) from None


def _escrow_ad(account: str) -> bytes:
    return _crypto.LABEL_ESCROW + b"/" + account.encode("utf-8")
