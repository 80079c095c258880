"""The CLI's side of unlocking: a terminal :class:`~coffer.unlock.Prompter` and the notices.

Rules:

- Everything that decides — which route, what a vault error means, what is remembered — is in
  :mod:`coffer.unlock`; this module only asks at a terminal (hidden input, never echoed) and
  prints one-line notices on stderr.
- A terminal is "stdin is a TTY". Without one, :class:`TerminalPrompter` says it cannot ask,
  and the library raises :class:`~coffer.unlock.NoSecret` with the flags to use instead.
"""

from __future__ import annotations

import sys

import click

from coffer.unlock.secrets import normalise_password


class TerminalPrompter:
    """Ask at the terminal with click's hidden prompts; notices go to stderr."""

    def can_ask(self) -> bool:
        return sys.stdin.isatty()

    def ask_password(self, recovery_fallback: bool) -> bytes | None:
        if not recovery_fallback:
            return normalise_password(click.prompt("Password", hide_input=True))
        text = click.prompt(
            "Password (leave empty to use the recovery key instead)",
            hide_input=True,
            default="",
            show_default=False,
        )
        return normalise_password(text) if text else None

    def ask_recovery_key(self) -> str:
        return str(click.prompt("Recovery key", hide_input=True))

    def tell(self, message: str) -> None:
        click.echo(f"coffer: {message}", err=True)


def remembered_notice(repo_id: bytes, where: str) -> None:
    """``--remember``: say where the key went (never by default, never the key)."""
    click.echo(f"coffer: remembered the key of repository {repo_id.hex()[:8]} in {where}", err=True)
