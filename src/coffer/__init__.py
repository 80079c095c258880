"""Coffer: end-to-end encrypted, deduplicated backups of chat histories — the Python API.

Open or create a repository, back up, list, restore and check; the same operations, locks and
errors as the ``coffer`` command (docs/api.md has the whole reference, with examples that run
as tests)::

    import coffer

    repo, recovery_key = coffer.Repository.init("/backups/chats")   # store the key safely
    summary = repo.backup(["/data/chat-store"], exclude=["*.tmp"])
    for snap in repo.snapshots():
        print(snap.id[:8], snap.time, snap.paths)
    repo.restore("/tmp/restored", "latest")
    repo.check(read_data=True)
    repo.close()

    with coffer.Repository.open("/backups/chats", password="…") as repo:   # via the key vault
        ...

Exceptions (``exit_code`` is what the CLI exits with for each)::

    CofferError (1)
    ├── UsageError (2)                a bad argument
    │   ├── MissingExtra              the feature needs an install extra (coffer-backup[s3], …)
    │   ├── WeakPassword              a new password is too easy to guess
    │   ├── RepositoryExists          init where a repository already is
    │   └── SnapshotNotFound          no snapshot matches, or an ambiguous ID prefix
    ├── RepositoryError (10)          no repository at that address / unsupported format
    │   └── RepositoryLocked (13)     another process holds a conflicting lock
    ├── WrongKey (11)                 no key slot opens with that key or password
    │   ├── PasswordRejected          wrong password (``attempts_left`` at the vault)
    │   ├── NoSecret                  no key given, and no remembered one
    │   └── StalePassword (16)        a password that already failed here was not sent again
    ├── IntegrityError (12)           stored data failed authentication (``result``: see below)
    ├── BackendError (14)             storage unreachable, full, or refusing
    ├── VaultError (15)               the key vault is unreachable or refused
    │   ├── VaultUnreachable
    │   └── PasswordLocked            the vault destroyed the key after too many guesses
    ├── RestoreIncomplete (17)        some entries could not be written into the target
    ├── FreshnessError (20)           storage is older than this device or the witness saw
    └── PartialBackup (3)             the backup was saved but skipped unreadable files

A method that finished its work but ends with an error — a backup that skipped files, a
restore with entries not written, a check that found problems — puts what it would have
returned in the exception's ``result``.

Public: the names in ``__all__`` below (and ``__version__``). Every subpackage listed under
PACKAGE CONTENTS by ``help(coffer)`` — ``coffer.engine``, ``coffer.ops``, ``coffer.cli`` … — is
internal and may change in any release.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name → the module that defines it; loaded on first use, so that `import coffer` (which
# the CLI does for __version__) stays cheap
_EXPORTS: dict[str, str] = {
    "Repository": "coffer.api.repository",
    "SnapshotInfo": "coffer.api.results",
    "BackupSummary": "coffer.api.results",
    "RestoreSummary": "coffer.api.results",
    "CheckReport": "coffer.api.results",
    "Skipped": "coffer.api.results",
    "Progress": "coffer.engine.progress",
    "CofferError": "coffer.errors",
    "UsageError": "coffer.errors",
    "MissingExtra": "coffer.errors",
    "WeakPassword": "coffer.unlock.errors",
    "RepositoryError": "coffer.errors",
    "RepositoryExists": "coffer.engine.errors",
    "SnapshotNotFound": "coffer.engine.errors",
    "RepositoryLocked": "coffer.errors",
    "WrongKey": "coffer.errors",
    "PasswordRejected": "coffer.unlock.errors",
    "NoSecret": "coffer.unlock.errors",
    "IntegrityError": "coffer.errors",
    "BackendError": "coffer.backends.base",
    "VaultError": "coffer.errors",
    "VaultUnreachable": "coffer.unlock.errors",
    "PasswordLocked": "coffer.unlock.errors",
    "PartialBackup": "coffer.errors",
    "StalePassword": "coffer.errors",
    "RestoreIncomplete": "coffer.errors",
    "FreshnessError": "coffer.errors",
}
__all__ = [
    "BackendError",
    "BackupSummary",
    "CheckReport",
    "CofferError",
    "FreshnessError",
    "IntegrityError",
    "MissingExtra",
    "NoSecret",
    "PartialBackup",
    "PasswordLocked",
    "PasswordRejected",
    "Progress",
    "Repository",
    "RepositoryError",
    "RepositoryExists",
    "RepositoryLocked",
    "RestoreIncomplete",
    "RestoreSummary",
    "Skipped",
    "SnapshotInfo",
    "SnapshotNotFound",
    "StalePassword",
    "UsageError",
    "VaultError",
    "VaultUnreachable",
    "WeakPassword",
    "WrongKey",
]
assert sorted(_EXPORTS) == __all__  # one list of public names

if TYPE_CHECKING:
    from coffer.api.repository import Repository
    from coffer.api.results import (
        BackupSummary,
        CheckReport,
        RestoreSummary,
        Skipped,
        SnapshotInfo,
    )
    from coffer.backends.base import BackendError
    from coffer.engine.errors import RepositoryExists, SnapshotNotFound
    from coffer.engine.progress import Progress
    from coffer.errors import (
        CofferError,
        FreshnessError,
        IntegrityError,
        MissingExtra,
        PartialBackup,
        RepositoryError,
        RepositoryLocked,
        RestoreIncomplete,
        StalePassword,
        UsageError,
        VaultError,
        WrongKey,
    )
    from coffer.unlock.errors import (
        NoSecret,
        PasswordLocked,
        PasswordRejected,
        VaultUnreachable,
        WeakPassword,
    )


def _load() -> None:
    """Import every public name into this module; they then say they live in ``coffer``."""
    for name, module in _EXPORTS.items():
        value = getattr(importlib.import_module(module), name)
        value.__module__ = __name__
        globals()[name] = value


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        _load()
        return globals()[name]
    raise AttributeError(f"module 'coffer' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*__all__, "__version__"])
