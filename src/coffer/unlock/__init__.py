"""Unlocking a repository: the library side of every key route, with no terminal in it.

Rules:

- The caller supplies secrets through a :class:`SecretSource` (files, environment, commands, or
  values a program holds) and a person through a :class:`Prompter`; the library decides which
  route to take (:func:`open_repository`: a recovery key, a password through the key vault, a
  remembered key) and what each failure means. The CLI (:mod:`coffer.cli.unlock`) is one
  prompter; the Python API passes :data:`NO_PROMPTER` and :class:`StaticSecrets`.
- Where the password route goes (vault address, account, pinned key) comes from
  :mod:`coffer.unlock.settings`; the vault flows and their error policy from
  :mod:`coffer.unlock.vault_route`; keys kept on request from :mod:`coffer.unlock.remember`.
- The vault client (httpx) is imported only when a route needs it, so a recovery-key or
  remembered-key unlock does not pay for it; :func:`coffer.unlock.vault_route.register_transport`
  routes a vault address to an in-process app (tests).
- Nothing here prints, and no secret is logged or put in an exception message.

Exception tree::

    coffer.errors.WrongKey (11)
    ├── PasswordRejected(attempts_left)   wrong password; attempts left at the vault
    ├── NoSecret                          no key given and nobody to ask
    └── coffer.errors.StalePassword (16)
        └── PasswordAlreadyFailed         this password already failed here; not sent again
    coffer.errors.VaultError (15)
    ├── PasswordLocked                    the vault has destroyed the escrowed key
    ├── VaultUnreachable                  the vault cannot be reached (repository untouched)
    └── AccountTaken                      registration refused: the account is in use or locked
    coffer.errors.UsageError (2)
    ├── VaultNotConfigured                no vault address or account for this operation
    ├── RouteMismatch                     account or vault key differs from the slot's record
    ├── SecretCommandFailed               a password/recovery-key command failed
    └── WeakPassword                      a new password is too easy to guess
"""

from __future__ import annotations

from coffer.unlock.errors import (
    AccountTaken,
    NoSecret,
    PasswordAlreadyFailed,
    PasswordLocked,
    PasswordRejected,
    RouteMismatch,
    SecretCommandFailed,
    VaultNotConfigured,
    VaultUnreachable,
    WeakPassword,
)
from coffer.unlock.flow import Unlocked, open_repository, open_with_password
from coffer.unlock.secrets import (
    NO_PROMPTER,
    Given,
    OutsideSecrets,
    Prompter,
    SecretSource,
    StaticSecrets,
)
from coffer.unlock.settings import VaultTarget

__all__ = [
    "NO_PROMPTER",
    "AccountTaken",
    "Given",
    "NoSecret",
    "OutsideSecrets",
    "PasswordAlreadyFailed",
    "PasswordLocked",
    "PasswordRejected",
    "Prompter",
    "RouteMismatch",
    "SecretCommandFailed",
    "SecretSource",
    "StaticSecrets",
    "Unlocked",
    "VaultNotConfigured",
    "VaultTarget",
    "VaultUnreachable",
    "WeakPassword",
    "open_repository",
    "open_with_password",
]
