"""Storage backends behind one contract (see :mod:`coffer.backends.base`).

:func:`coffer.backends.registry.open_backend` turns a repository address into a backend.

Modules: ``base`` (contract, exception tree, name validation) · ``memory`` · ``local`` ·
``s3`` (boto3) · ``restproto`` (restic REST protocol v2, sans I/O) · ``rest`` (that protocol
over httpx, and the backend shared with rclone) · ``h2pipe`` (HTTP/2 over pipes) · ``rclone``
(``rclone serve restic --stdio``) · ``binary`` (finding rclone) · ``wrapper`` (decorator base)
· ``retry`` · ``limits`` · ``faults`` · ``registry`` (addresses, default decorators).
The user-facing guide is ``docs/storage.md``.
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
