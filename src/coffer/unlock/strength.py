"""The strength check for new passwords (zxcvbn), shared by the CLI and the Python API.

Rules: a score below :data:`MIN_SCORE` (of 4) is refused with zxcvbn's own warning and
suggestions as the reason (:class:`~coffer.unlock.errors.WeakPassword`, exit code 2); the
password itself never appears in the message. Words an attacker knows (the account name and
its parts) are passed as ``user_inputs``.
"""

from __future__ import annotations

from zxcvbn import zxcvbn

from coffer.unlock.errors import WeakPassword

MIN_SCORE = 3
_ZXCVBN_MAX_LEN = 100  # zxcvbn is slow on very long input; longer passwords are judged by prefix


def account_hints(account: str | None) -> tuple[str, ...]:
    """Words zxcvbn should treat as known to an attacker (the account name and its parts)."""
    account = account or ""
    return (account, *account.replace("@", " ").replace(".", " ").split())


def check_strength(password: str, user_inputs: tuple[str, ...] = ()) -> None:
    """Raise :class:`WeakPassword` with zxcvbn's reason when the score is below MIN_SCORE."""
    result = zxcvbn(password[:_ZXCVBN_MAX_LEN], user_inputs=list(user_inputs))
    score = int(result["score"])
    if score >= MIN_SCORE:
        return
    feedback = result.get("feedback") or {}
    reasons = [str(feedback.get("warning") or "").strip()]
    reasons += [str(s).strip() for s in feedback.get("suggestions") or []]
    detail = " ".join(r if r.endswith(".") else r + "." for r in reasons if r)
    raise WeakPassword(
        f"password too weak (strength {score} of 4, need {MIN_SCORE}): "
        + (detail or "it would be guessed quickly.")
        + " A few unrelated words make a strong password."
    )
