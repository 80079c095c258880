"""One repository's password route as a sequence of guesses: what is checked before a guess is
spent, when a person is asked again, and what the device records about a failed input.

Rules (issue 14; the guard's record is :mod:`coffer.unlock.stale`):

- Before any password is read or asked for, the route is chosen (an account or vault key that
  differs from the slot's is refused, :func:`~coffer.unlock.vault_route.choose_route`) and the
  vault is reached and its key checked (:meth:`PasswordRoute.check_reachable`). An unreachable
  vault is reported before a ``--password-command`` runs or a prompt appears; at a terminal,
  when the repository has a recovery-key slot, the person is asked for that key instead.
- A given password that already failed for this slot is never sent again without a terminal
  (:class:`~coffer.unlock.errors.PasswordAlreadyFailed`, exit code 16); at a terminal the person
  is told and asked instead.
- A wrong given password is recorded; a wrong typed one is not. At a terminal a wrong password
  is followed by the count and a new prompt, up to :data:`MAX_PROMPTS` typed passwords per run
  (as sudo does); without one the run ends with the count.
- Any successful guess clears the slot's record.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from coffer.crypto.slots import SlotInfo, SlotKind
from coffer.unlock import vault_route
from coffer.unlock.errors import PasswordAlreadyFailed, PasswordRejected, VaultUnreachable
from coffer.unlock.secrets import Given, Prompter, SecretSource
from coffer.unlock.settings import VaultTarget
from coffer.unlock.stale import FailedPasswords, Failure

MAX_PROMPTS = 3
_RECORDED = "; this device will not send that password again without a terminal"
T = TypeVar("T")


class PasswordRoute:
    """The vault route of one repository's password slot(s), and the device's record of it."""

    def __init__(self, repo_id: bytes, slots: list[SlotInfo], target: VaultTarget) -> None:
        self.route = vault_route.choose_route(slots, target)
        self.has_recovery = any(s.kind == SlotKind.RECOVERY for s in slots)
        self.failures = FailedPasswords(repo_id)
        self.slot_key = ",".join(sorted(self.route.slot_ids))
        self.prompts = 0

    def check_reachable(self) -> None:
        vault_route.check_reachable(self.route, self.has_recovery)

    def first_password(
        self, secrets: SecretSource, prompter: Prompter, recovery_fallback: bool
    ) -> tuple[bytes, Given | None] | None:
        """The password to try first: the given one unless it already failed here, else typed.
        None means "use the recovery key" (only when ``recovery_fallback``)."""
        given = secrets.password()
        if given is not None:
            failure = self.failures.failed_before(self.slot_key, given.value)
            if failure is None:
                return given.value, given
            if not prompter.can_ask():
                raise PasswordAlreadyFailed(_already_failed(given, failure))
            prompter.tell(_already_failed(given, failure, asking=True))
        typed = self._ask(prompter, recovery_fallback)
        return None if typed is None else (typed, None)

    def spend(self, password: bytes, given: Given | None, guess: Callable[[], T]) -> T:
        """Run ``guess`` (one vault login with ``password``), keeping the record up to date."""
        try:
            result = guess()
        except PasswordRejected as exc:
            if given is None:
                raise
            self.failures.record(self.slot_key, password, given.origin, exc.attempts_left)
            raise PasswordRejected(exc.attempts_left, self.has_recovery, _RECORDED) from None
        self.failures.clear(self.slot_key)
        return result

    def again(
        self, rejected: PasswordRejected, prompter: Prompter, recovery_fallback: bool
    ) -> bytes | None:
        """After a wrong password: a new typed one, or the rejection raised again (no terminal,
        no attempts left, or :data:`MAX_PROMPTS` reached). None means "the recovery key"."""
        if not prompter.can_ask() or rejected.attempts_left <= 0 or self.prompts >= MAX_PROMPTS:
            raise rejected
        prompter.tell(f"{rejected}; try again")
        return self._ask(prompter, recovery_fallback)

    def _ask(self, prompter: Prompter, recovery_fallback: bool) -> bytes | None:
        self.prompts += 1
        return prompter.ask_password(recovery_fallback and self.has_recovery)

    def recover(
        self, secrets: SecretSource, prompter: Prompter, recovery_fallback: bool
    ) -> bytes | None:
        """V through the vault, asking again at a terminal; None means "the recovery key"."""
        try:
            self.check_reachable()
        except VaultUnreachable as exc:
            if secrets.offers_password() or not (recovery_fallback and self.has_recovery):
                raise
            if not prompter.can_ask():
                raise
            prompter.tell(f"{exc}; asking for the recovery key instead")
            return None
        first = self.first_password(secrets, prompter, recovery_fallback)
        if first is None:
            return None
        password, given = first
        while True:
            try:
                return self.spend(password, given, functools.partial(self._login, password))
            except PasswordRejected as exc:
                typed = self.again(exc, prompter, recovery_fallback)
            if typed is None:
                return None
            password, given = typed, None

    def _login(self, password: bytes) -> bytes:
        return vault_route.recover_secret(self.route, password, self.has_recovery)


def _already_failed(given: Given, failure: Failure, asking: bool = False) -> str:
    when = datetime.fromtimestamp(failure.failed_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = (
        f"the password from {given.origin} already failed for this repository's password slot "
        f"on {when} (the vault then had {failure.attempts_left} attempts left)"
    )
    if asking:
        return text + "; not sending it again"
    return (
        text + ": it was not sent again, so no guess was spent. Update that password (for "
        "example after `coffer password change` on another device), or run this command once "
        "in a terminal"
    )
