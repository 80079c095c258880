"""Storage backends behind one contract (see :mod:`coffer.backends.base`).

:func:`coffer.backends.registry.open_backend` turns a repository address into a backend.
"""

from coffer.backends.base import (
    AppendOnlyError,
    Backend,
    BackendConfigError,
    BackendError,
    Capabilities,
    ObjectExists,
    ObjectNotFound,
    ObjectType,
    ShortRead,
    StorageFull,
    TransientError,
    check_name,
)

__all__ = [
    "AppendOnlyError",
    "Backend",
    "BackendConfigError",
    "BackendError",
    "Capabilities",
    "ObjectExists",
    "ObjectNotFound",
    "ObjectType",
    "ShortRead",
    "StorageFull",
    "TransientError",
    "check_name",
]
