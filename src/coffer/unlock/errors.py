"""The errors of :mod:`coffer.unlock` (the tree is drawn in the package docstring).

Messages say what the user can do next and never contain a secret: a wrong password says how
many guesses remain; a locked account or an unreachable vault mentions the recovery-key slot
when the repository has one.
"""

from __future__ import annotations

from coffer.errors import StalePassword, UsageError, VaultError, WrongKey


class PasswordRejected(WrongKey):
    """The vault did not accept the password; ``attempts_left`` guesses remain."""

    def __init__(self, attempts_left: int, has_recovery: bool, note: str = "") -> None:
        self.attempts_left = attempts_left
        if attempts_left > 0:
            plural = "s" if attempts_left != 1 else ""
            text = (
                f"wrong password — {attempts_left} attempt{plural} left before the password "
                "can no longer open this backup"
            )
        else:
            text = (
                "wrong password — that was the last attempt: the key vault has destroyed the "
                "escrowed key, so the password can no longer open this backup"
                + recovery_hint(has_recovery)
            )
        super().__init__(text + (note if attempts_left > 0 else ""))


class NoSecret(WrongKey):
    """No source gave a key or password and there is nobody to ask (no terminal)."""


class PasswordAlreadyFailed(StalePassword):
    """This exact password already failed for this slot; it was not sent to the vault again."""


class PasswordLocked(VaultError):
    """The vault has locked the account: the password route is gone for good."""


class VaultUnreachable(VaultError):
    """The vault cannot be reached; nothing in the repository was changed."""


class AccountTaken(VaultError):
    """The vault already has (or has locked) this account: a new key cannot be escrowed there."""


class VaultNotConfigured(UsageError):
    """An operation needs a vault address and an account that no source gave."""


class RouteMismatch(UsageError):
    """The account or vault key given differs from the one the key slot was made with."""


class SecretCommandFailed(UsageError):
    """``--password-command`` / ``--recovery-key-command`` failed or printed nothing."""


class WeakPassword(UsageError):
    """The new password is too easy to guess; the message says why."""


def recovery_hint(has_recovery: bool) -> str:
    if has_recovery:
        return (
            "; this repository also has a recovery-key slot: open it with --recovery-key-file "
            "or COFFER_RECOVERY_KEY"
        )
    return "; this repository has no recovery-key slot"
