"""The key vault's exception tree, for both the server and the client side.

Rules: the client raises only these classes (never an ``httpx`` or ``json`` error); the server's
request handlers raise only :class:`RequestRefused` subclasses for anything a caller did, and each
of those names its HTTP status and a stable error ``code`` for the JSON body. A wrong password is a
key error (exit code 11), everything else a vault error (exit code 15)::

    coffer.errors.WrongKey (11)
    └── WrongPassword(attempts_left)      OPAQUE login failed; attempts_left counts what remains

    coffer.errors.VaultError (15)
    ├── VaultUnavailable                  unreachable, timed out, or answered 5xx
    ├── VaultKeyMismatch                  the vault's public key is not the pinned one
    ├── VaultProtocolError                the vault's answer is malformed (remote misbehaviour)
    ├── VaultConfigError                  bad server configuration (local misuse)
    │   └── SealError                     seal key missing or wrong; sealed secrets unreadable
    ├── StoreError                        the database failed (server side)
    └── RequestRefused(status, code)      the vault refused a request (server and client side)
        ├── BadRequest          400 bad_request
        ├── LoginFailed         401 login_failed (server side; the client turns it into
        │                                          WrongPassword)
        ├── BadSignature        403 bad_signature: a witness row not signed by public_key
        ├── KeyMismatch         403 key_mismatch: the witness ID is registered to another key
        ├── AttemptExpired      410 attempt_expired
        ├── AccountExists       409 account_exists
        ├── Conflict            409 conflict
        ├── Stale               409 stale: a witness row not above the stored seq (stored_seq)
        ├── TooManyWriters      409 too_many_writers: a witness holds its maximum of writers
        ├── TooLarge            413 too_large
        ├── UnsupportedMediaType 415 unsupported_media_type (a body not sent as JSON)
        ├── VaultLocked         423 locked: the guess allowance is used up, the secret destroyed
        └── RateLimited         429 rate_limited (retry_after seconds)
"""

from __future__ import annotations

from typing import Any, ClassVar

from coffer.errors import VaultError, WrongKey

__all__ = [
    "AccountExists",
    "AttemptExpired",
    "BadRequest",
    "BadSignature",
    "Conflict",
    "KeyMismatch",
    "LoginFailed",
    "RateLimited",
    "RequestRefused",
    "SealError",
    "Stale",
    "StoreError",
    "TooLarge",
    "TooManyWriters",
    "UnsupportedMediaType",
    "VaultConfigError",
    "VaultError",
    "VaultKeyMismatch",
    "VaultLocked",
    "VaultProtocolError",
    "VaultUnavailable",
    "WrongPassword",
]


class WrongPassword(WrongKey):
    """The password did not open the vault record; ``attempts_left`` guesses remain (0: locked)."""

    def __init__(self, attempts_left: int) -> None:
        self.attempts_left = attempts_left
        if attempts_left > 0:
            tail = f"{attempts_left} attempt{'s' if attempts_left != 1 else ''} left"
        else:
            tail = "no attempts left: the vault has destroyed the escrowed key"
        super().__init__(f"wrong password — {tail}")

    @property
    def locked(self) -> bool:
        """True when this was the last allowed guess."""
        return self.attempts_left <= 0


class VaultUnavailable(VaultError):
    """The vault could not be reached, timed out, or failed internally (5xx)."""


class VaultKeyMismatch(VaultError):
    """The vault presented a public key other than the pinned (or first-seen) one."""


class VaultProtocolError(VaultError):
    """The vault's answer does not follow the API (wrong shape, size, or encoding)."""


class VaultConfigError(VaultError):
    """The vault server is misconfigured (missing setup, bad database URL, bad options)."""


class SealError(VaultConfigError):
    """The seal key is missing or wrong, so the server secrets cannot be unsealed."""


class StoreError(VaultError):
    """The vault's database failed."""


class RequestRefused(VaultError):
    """The vault refused a request: ``status`` is the HTTP status, ``code`` a stable name."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "refused"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """The JSON error body: ``{"error": code, "message": ..., **extra}``."""
        return {"error": self.code, "message": self.message, **self.extra}


class BadRequest(RequestRefused):
    status = 400
    code = "bad_request"


class LoginFailed(RequestRefused):
    status = 401
    code = "login_failed"


class AccountExists(RequestRefused):
    status = 409
    code = "account_exists"


class Conflict(RequestRefused):
    status = 409
    code = "conflict"


class BadSignature(RequestRefused):
    status = 403
    code = "bad_signature"


class KeyMismatch(RequestRefused):
    status = 403
    code = "key_mismatch"


class Stale(RequestRefused):
    """A witness row whose ``seq`` is not above the stored one (also every replay);
    ``stored_seq`` in the body."""

    status = 409
    code = "stale"


class TooManyWriters(RequestRefused):
    status = 409
    code = "too_many_writers"


class AttemptExpired(RequestRefused):
    status = 410
    code = "attempt_expired"


class TooLarge(RequestRefused):
    status = 413
    code = "too_large"


class UnsupportedMediaType(RequestRefused):
    status = 415
    code = "unsupported_media_type"


class VaultLocked(RequestRefused):
    status = 423
    code = "locked"


class RateLimited(RequestRefused):
    status = 429
    code = "rate_limited"

    @property
    def retry_after(self) -> int:
        """Seconds the caller should wait before retrying."""
        return int(self.extra.get("retry_after", 1))
