"""The root of Coffer's exception tree and the CLI exit codes.

Every package defines its own subtree under :class:`CofferError`; each class carries the exit code
the CLI returns for it, so a user error always ends as one line on stderr plus a documented code::

    CofferError (1)
    ├── UsageError (2)                  bad flags or arguments (a missing source, an unknown
    │   │                               snapshot, ``init`` where a repository exists)
    │   └── MissingExtra (2)            a feature whose install extra is missing
    ├── RepositoryError (10)            no repository here / unsupported format
    │   └── RepositoryLocked (13)
    ├── WrongKey (11)                   wrong, malformed or missing key, no slot opens
    │   └── StalePassword (16)          a password that already failed was not sent again
    ├── IntegrityError (12)             authentication failed on stored data
    ├── coffer.backends.BackendError (14)   storage failures (see that package)
    ├── VaultError (15)                 key vault unreachable, locked, refused
    ├── RestoreIncomplete (17)          some entries could not be written into the target
    ├── MissingSystemLibrary (18)       libsodium cannot be loaded
    ├── BackupOverdue (19)              `coffer status --max-age`: no recent successful backup
    ├── FreshnessError (20)             storage shows an older state than this device or the
    │                                   witness has seen (coffer.freshness)
    └── PartialBackup (3)               backup finished but skipped some files

Exit codes (documented in README.md, whose table a test compares with every class's code):
0 ok, 1 unexpected, 2 usage, 3 partial backup, 10 repository, 11 key, 12 integrity, 13 locked,
14 storage (also a full restore target), 15 vault, 16 stale password, 17 restore incomplete,
18 missing system library, 19 backup overdue, 20 freshness (rollback), 130 interrupted.
"""

from __future__ import annotations


class CofferError(Exception):
    """Base class of every error Coffer raises on purpose.

    ``result``: when a Python API method finished its work but ends with an error (a backup
    that skipped files, a restore with entries not written, a check that found problems), what
    the method would have returned; otherwise None.
    """

    exit_code = 1
    result: object = None


class UsageError(CofferError):
    """The caller asked for something that cannot work (bad argument, wrong combination)."""

    exit_code = 2


class MissingExtra(UsageError):
    """The feature needs an install extra (``coffer-backup[s3]``, …) that is not installed here."""


class PartialBackup(CofferError):
    """A backup completed but some sources could not be read; the snapshot lists them."""

    exit_code = 3


class RepositoryError(CofferError):
    """The repository is missing, not a Coffer repository, or of an unsupported version."""

    exit_code = 10


class RepositoryLocked(RepositoryError):
    """Another process holds a conflicting lock on the repository."""

    exit_code = 13


class WrongKey(CofferError):
    """No key slot opens with the given key or password, or the key is malformed."""

    exit_code = 11


class StalePassword(WrongKey):
    """An unattended run was given a password that already failed for this key slot, so it was
    not sent to the vault again: one stale password file never burns more than one guess."""

    exit_code = 16


class BackupOverdue(CofferError):
    """``coffer status --max-age``: a scheduled job's last successful backup is too old (or
    there is none) — the code monitoring checks."""

    exit_code = 19


class FreshnessError(CofferError):
    """Storage shows an older state than this device or the witness has seen: a rollback, the
    newest snapshots hidden, or snapshots removed without a forget record (docs/design.md,
    "Freshness record").

    Every object is still authentic — which is why this is not :class:`IntegrityError`: the
    provider withheld or put back objects it cannot forge. ``--accept-rollback`` goes on.
    """

    exit_code = 20


class IntegrityError(CofferError):
    """Stored data failed authentication or structural checks: corrupted or tampered with."""

    exit_code = 12


class VaultError(CofferError):
    """The key vault could not be reached, refused the request, or has locked the account."""

    exit_code = 15


class RestoreIncomplete(CofferError):
    """A restore finished, but some entries could not be written into the target.

    Not damage in the repository (that is :class:`IntegrityError`): the target refused (no
    permission, a folder in the way) or a file was left alone because another process has it
    open for writing. Each entry is listed before this error is raised.
    """

    exit_code = 17


class MissingSystemLibrary(CofferError):
    """A shared library Coffer depends on (libsodium) cannot be loaded."""

    exit_code = 18


EXIT_OK = 0
EXIT_INTERRUPTED = 130
