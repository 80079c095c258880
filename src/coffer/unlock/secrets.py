"""How a caller hands secrets to :mod:`coffer.unlock`: a :class:`SecretSource` and a
:class:`Prompter`, the two small interfaces that keep prompts out of the library.

Rules:

- A :class:`SecretSource` gives what needs no person: a password or a recovery key from a file,
  the environment, a command, or a value a program already holds. Each comes as a
  :class:`Given` — the bytes and where they came from (``origin``, used in messages; never the
  value). Sources are asked lazily: a password file is read only when the password route is
  taken, a password command runs only then.
- A :class:`Prompter` asks a person. When :meth:`Prompter.can_ask` is false the flow never calls
  its ``ask_*`` methods; :data:`NO_PROMPTER` is that prompter for programs and unattended runs.
- :class:`OutsideSecrets` is restic's set of sources: ``--password-file`` or
  ``--password-command`` (never both), else ``COFFER_PASSWORD_COMMAND``, else
  ``COFFER_PASSWORD``; the same for the recovery key (``--recovery-key-file``,
  ``--recovery-key-command``, ``COFFER_RECOVERY_KEY_COMMAND``, ``COFFER_RECOVERY_KEY``) and, for
  a new password, ``--new-password-file`` then ``COFFER_NEW_PASSWORD``.
- A command runs without a shell (split like a shell would), with stdin and stderr inherited
  so a password manager can ask its own questions; its stdout is the secret. A non-zero exit or
  empty output is :class:`SecretCommandFailed`, which names the exit code — never the output.
- A password is Unicode text normalised to NFC (the same password typed on two devices is the
  same bytes), encoded as UTF-8; a single trailing line break is dropped.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from coffer.errors import UsageError
from coffer.unlock.errors import SecretCommandFailed

ENV_PASSWORD = "COFFER_PASSWORD"  # noqa: S105 - a variable name
ENV_PASSWORD_COMMAND = "COFFER_PASSWORD_COMMAND"  # noqa: S105 - a variable name
ENV_NEW_PASSWORD = "COFFER_NEW_PASSWORD"  # noqa: S105 - a variable name
ENV_RECOVERY_KEY = "COFFER_RECOVERY_KEY"
ENV_RECOVERY_KEY_COMMAND = "COFFER_RECOVERY_KEY_COMMAND"


@dataclass(frozen=True)
class Given:
    """A secret supplied without a prompt: its bytes and a description of its origin."""

    value: bytes = field(repr=False)
    origin: str


class SecretSource(Protocol):
    """Secrets available without asking anyone (each call may read a file or run a command)."""

    def offers_password(self) -> bool:
        """True when :meth:`password` would give one (without reading a file or running a
        command: the vault is checked first)."""

    def password(self) -> Given | None:
        """The current password (NFC, UTF-8), or None when no source gives one."""

    def recovery_key(self) -> Given | None:
        """The recovery key's text (still to be parsed), or None."""


class Prompter(Protocol):
    """A person who can be asked (a terminal, a GUI dialog)."""

    def can_ask(self) -> bool:
        """True when the ``ask_*`` methods may be called."""

    def ask_password(self, recovery_fallback: bool) -> bytes | None:
        """The password (NFC, UTF-8); None means "use the recovery key" (only offered when
        ``recovery_fallback`` is true)."""

    def ask_recovery_key(self) -> str:
        """The recovery key as typed."""

    def tell(self, message: str) -> None:
        """Show a one-line notice (a wrong password before asking again, a skipped input)."""


class _Nobody:
    """The prompter of unattended runs and programs: nobody to ask."""

    def can_ask(self) -> bool:
        return False

    def ask_password(self, recovery_fallback: bool) -> bytes | None:
        raise AssertionError("NO_PROMPTER cannot ask")  # the flow checks can_ask() first

    def ask_recovery_key(self) -> str:
        raise AssertionError("NO_PROMPTER cannot ask")

    def tell(self, message: str) -> None:
        return None


NO_PROMPTER: Prompter = _Nobody()


def normalise_password(text: str) -> bytes:
    """Drop one trailing line break, refuse an empty password, NFC-normalise, UTF-8 encode."""
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]
    if not text:
        raise UsageError("the password is empty")
    return unicodedata.normalize("NFC", text).encode("utf-8")


def read_text_file(path: Path) -> str:
    try:
        return path.read_text("utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not UTF-8 text") from None


def run_secret_command(command: str, flag: str) -> str:
    """Run ``command`` (no shell) and return its standard output as text."""
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise SecretCommandFailed(f"cannot parse {flag}: {exc}") from None
    if not argv:
        raise SecretCommandFailed(f"{flag} is empty")
    try:
        done = subprocess.run(argv, stdout=subprocess.PIPE, check=False)
    except OSError as exc:
        raise SecretCommandFailed(f"cannot run {flag} {argv[0]!r}: {exc.strerror}") from None
    if done.returncode != 0:
        raise SecretCommandFailed(f"{flag} exited with code {done.returncode}")
    try:
        text = done.stdout.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretCommandFailed(f"{flag} printed something that is not UTF-8 text") from None
    if not text.strip():
        raise SecretCommandFailed(f"{flag} printed nothing")
    return text


@dataclass(frozen=True)
class StaticSecrets:
    """Secrets a program already holds (the Python API's ``password=`` / ``recovery_key=``)."""

    password_text: str | None = field(default=None, repr=False)
    recovery_key_text: str | None = field(default=None, repr=False)

    def offers_password(self) -> bool:
        return self.password_text is not None

    def password(self) -> Given | None:
        if self.password_text is None:
            return None
        return Given(normalise_password(self.password_text), "the password given by the caller")

    def recovery_key(self) -> Given | None:
        if self.recovery_key_text is None:
            return None
        return Given(self.recovery_key_text.encode("utf-8"), "the recovery key given")


@dataclass
class OutsideSecrets:
    """The sources restic users know: files, commands and environment variables."""

    password_file: Path | None = None
    password_command: str | None = None
    recovery_key_file: Path | None = None
    recovery_key_command: str | None = None
    new_password_file: Path | None = None
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ, repr=False)
    _cache: dict[str, Given | None] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.password_file is not None and self.password_command:
            raise UsageError("--password-file and --password-command are mutually exclusive")
        if self.recovery_key_file is not None and self.recovery_key_command:
            raise UsageError(
                "--recovery-key-file and --recovery-key-command are mutually exclusive"
            )

    def _once(self, name: str, read: Callable[[], Given | None]) -> Given | None:
        if name not in self._cache:
            self._cache[name] = read()
        return self._cache[name]

    def password(self) -> Given | None:
        return self._once("password", self._read_password)

    def recovery_key(self) -> Given | None:
        return self._once("recovery", self._read_recovery_key)

    def new_password(self) -> Given | None:
        """A new password (``password set``/``change``): its file, then COFFER_NEW_PASSWORD."""
        return self._once("new", self._read_new_password)

    def offers_password(self) -> bool:
        """True when a password source is configured (without reading it)."""
        return bool(
            self.password_file is not None
            or self.password_command
            or self.environ.get(ENV_PASSWORD_COMMAND)
            or self.environ.get(ENV_PASSWORD)
        )

    def _read_password(self) -> Given | None:
        if self.password_file is not None:
            text = read_text_file(self.password_file)
            return Given(normalise_password(text), f"--password-file {self.password_file}")
        command = self.password_command or self.environ.get(ENV_PASSWORD_COMMAND)
        if command:
            flag = "--password-command" if self.password_command else ENV_PASSWORD_COMMAND
            return Given(normalise_password(run_secret_command(command, flag)), flag)
        value = self.environ.get(ENV_PASSWORD)
        return Given(normalise_password(value), ENV_PASSWORD) if value else None

    def _read_recovery_key(self) -> Given | None:
        if self.recovery_key_file is not None:
            text = read_text_file(self.recovery_key_file)
            return Given(text.encode("utf-8"), f"--recovery-key-file {self.recovery_key_file}")
        command = self.recovery_key_command or self.environ.get(ENV_RECOVERY_KEY_COMMAND)
        if command:
            flag = (
                "--recovery-key-command"
                if self.recovery_key_command
                else (ENV_RECOVERY_KEY_COMMAND)
            )
            return Given(run_secret_command(command, flag).encode("utf-8"), flag)
        value = self.environ.get(ENV_RECOVERY_KEY)
        return Given(value.encode("utf-8"), ENV_RECOVERY_KEY) if value else None

    def _read_new_password(self) -> Given | None:
        if self.new_password_file is not None:
            text = read_text_file(self.new_password_file)
            return Given(normalise_password(text), f"--new-password-file {self.new_password_file}")
        value = self.environ.get(ENV_NEW_PASSWORD)
        return Given(normalise_password(value), ENV_NEW_PASSWORD) if value else None
