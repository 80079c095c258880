"""New and current passwords at the CLI: from a source (file, command, environment) or a
hidden prompt, and refusing weak new ones.

Rules:

- A new password (``init --password``, ``password set``/``change``) comes from its source —
  for ``init`` the ``--password-file``/``--password-command``/``COFFER_PASSWORD`` sources, as
  there is no old one; for ``set``/``change`` ``--new-password-file`` or
  ``COFFER_NEW_PASSWORD`` — else from a prompt asked twice.
- New passwords are checked with zxcvbn (:func:`coffer.unlock.strength.check_strength`).
- Passwords are never echoed, logged or put in an exception message.
"""

from __future__ import annotations

import sys

import click

from coffer.unlock.errors import NoSecret, WeakPassword
from coffer.unlock.secrets import Given, normalise_password
from coffer.unlock.strength import check_strength

__all__ = ["WeakPassword", "can_prompt", "read_current_password", "read_new_password"]


def can_prompt() -> bool:
    return sys.stdin.isatty()


def read_current_password(given: Given | None, what: str = "Password") -> bytes:
    """The current password: from its source, else a hidden prompt at a terminal."""
    if given is not None:
        return given.value
    if not can_prompt():
        raise NoSecret(
            "no password given: use --password-file, --password-command, COFFER_PASSWORD or "
            "run in a terminal"
        )
    return normalise_password(click.prompt(what, hide_input=True))


def read_new_password(given: Given | None, flags: str, user_inputs: tuple[str, ...] = ()) -> bytes:
    """A new password (asked twice at a prompt), refused when zxcvbn finds it weak."""
    if given is None:
        if not can_prompt():
            raise NoSecret(f"no new password given: use {flags} or run in a terminal")
        text = click.prompt("New password", hide_input=True, confirmation_prompt=True)
        given = Given(normalise_password(text), "the prompt")
    check_strength(given.value.decode("utf-8"), user_inputs)
    return given.value
