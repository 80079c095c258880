"""Engine-specific errors; the shared ones live in :mod:`coffer.errors`."""

from __future__ import annotations

from coffer.errors import CofferError, IntegrityError, UsageError


class RepositoryExists(UsageError):
    """``init`` found a repository already at that address (the address is the wrong argument)."""


class SnapshotNotFound(UsageError):
    """No snapshot matches the given ID (or prefix), or the prefix is ambiguous."""


class PathNotInSnapshot(UsageError):
    """The requested path does not exist in the snapshot."""


class UnsafePath(IntegrityError):
    """A snapshot entry names a path that would escape the restore target."""


class RestoreWriteError(CofferError):
    """A restored file could not be written into the target (name, permissions, space)."""


class TargetFull(CofferError):
    """The restore target has no space left (exit 14, like a full storage): the restore stopped
    at once, and no partial file was left behind."""

    exit_code = 14
