"""Reading passwords from a file, the environment or a hidden prompt, and refusing weak ones.

Rules:

- Sources, in order: ``--password-file`` → ``COFFER_PASSWORD`` → a hidden prompt, only when
  stdin is a terminal. A new password (``init --password``, ``password set``/``change``) comes
  from ``--new-password-file`` → ``COFFER_NEW_PASSWORD`` → a prompt asked twice (``init``
  reads ``--password-file``/``COFFER_PASSWORD`` for it, as there is no old one).
- A password is Unicode text normalised to NFC (so the same password typed on two devices is
  the same bytes) and encoded as UTF-8; a file's single trailing line break is dropped.
- New passwords are checked with zxcvbn: a score below :data:`MIN_SCORE` (of 4) is refused with
  zxcvbn's own warning and suggestions as the reason (:class:`WeakPassword`, exit code 2).
- Passwords are never echoed, logged or put in an exception message.

Exception tree::

    coffer.errors.UsageError (2)
    └── WeakPassword          the new password is too easy to guess (reason included)
    coffer.errors.WrongKey (11)
    └── NoPassword            no source gave a password and there is no terminal to ask
"""

from __future__ import annotations

import os
import sys
import unicodedata
from pathlib import Path

import click
from zxcvbn import zxcvbn

from coffer.errors import UsageError, WrongKey

ENV_PASSWORD = "COFFER_PASSWORD"  # noqa: S105 - a variable name
ENV_NEW_PASSWORD = "COFFER_NEW_PASSWORD"  # noqa: S105 - a variable name
MIN_SCORE = 3
_ZXCVBN_MAX_LEN = 100  # zxcvbn is slow on very long input; longer passwords are judged by prefix


class WeakPassword(UsageError):
    """The new password is too easy to guess; the message says why."""


class NoPassword(WrongKey):
    """No password was given and there is no terminal to ask for one."""


def normalise_password(text: str) -> bytes:
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]
    if not text:
        raise UsageError("the password is empty")
    return unicodedata.normalize("NFC", text).encode("utf-8")


def _from_file_or_env(path: Path | None, env: str) -> bytes | None:
    if path is not None:
        try:
            return normalise_password(path.read_text("utf-8"))
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise UsageError(f"{path} is not UTF-8 text") from None
    value = os.environ.get(env)
    return normalise_password(value) if value else None


def password_given(path: Path | None) -> bool:
    """True when a password comes from a file or the environment (no prompt needed)."""
    return path is not None or bool(os.environ.get(ENV_PASSWORD))


def can_prompt() -> bool:
    return sys.stdin.isatty()


def read_password(path: Path | None, what: str = "Password") -> bytes:
    """The current password: from ``path``, ``COFFER_PASSWORD`` or a hidden prompt."""
    given = _from_file_or_env(path, ENV_PASSWORD)
    if given is not None:
        return given
    if not can_prompt():
        raise NoPassword(
            "no password given: use --password-file, COFFER_PASSWORD or run in a terminal"
        )
    return normalise_password(click.prompt(what, hide_input=True))


def read_new_password(
    path: Path | None, env: str = ENV_NEW_PASSWORD, user_inputs: tuple[str, ...] = ()
) -> bytes:
    """A new password (asked twice at a prompt), refused when zxcvbn finds it weak."""
    given = _from_file_or_env(path, env)
    if given is None:
        if not can_prompt():
            flag = "--password-file" if env == ENV_PASSWORD else "--new-password-file"
            raise NoPassword(f"no new password given: use {flag}, {env} or run in a terminal")
        text = click.prompt("New password", hide_input=True, confirmation_prompt=True)
        given = normalise_password(text)
    check_strength(given.decode("utf-8"), user_inputs)
    return given


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
