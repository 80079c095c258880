"""The storage contract every Coffer backend implements.

Rules (the conformance suite in ``tests/backends/test_conformance.py`` checks each one):

- Objects are addressed by ``(ObjectType, name)``. ``name`` is validated by :func:`check_name`
  (lower-case hex IDs of 64 characters for content objects; ``config`` has the single name
  ``"config"``). How names map to paths (e.g. ``data/<2 hex>/<id>``) is the backend's business.
- ``save`` is atomic: readers see either no object or the whole object, never a prefix.
  Saving an existing name raises :class:`ObjectExists` unless ``overwrite=True`` — Coffer's
  objects are immutable and content-addressed (packs, key slots) or named at random (index,
  snapshots, locks), so two writers never want one name for different bytes. (Backends that
  cannot enforce this atomically — S3 without conditional writes, the REST protocol — check
  first, report ``capabilities.atomic_exclusive_create=False`` and document the race; nothing
  in Coffer depends on the check for safety.) Where the storage itself writes in place (rclone's
  local/SFTP remotes), a reader *during* an upload may see a prefix; see docs/storage.md.
- ``load`` with ``offset``/``length`` is a ranged read. A read that would return fewer bytes than
  asked (object shorter than ``offset + length``) raises :class:`ShortRead` — never a silent
  short buffer. A missing object raises :class:`ObjectNotFound`. ``length=None`` reads to the
  end; ``offset`` equal to the size gives ``b""``; ``offset`` beyond the size is a
  :class:`ShortRead`; negative ``offset`` or ``length`` is a ``ValueError`` (caller bug).
- ``stat`` returns the size; ``list`` yields ``(name, size)`` for one type, in no given order;
  ``modified`` returns when the object was written, or ``None`` if the store does not say.
- ``remove`` of a missing object raises :class:`ObjectNotFound`; on an append-only backend every
  ``remove`` (except of ``locks``, which clients must be able to release — restic's rule) and
  every replacing ``save(..., overwrite=True)`` raises :class:`AppendOnlyError`.
- Invalid names and ranges raise ``ValueError`` before any I/O (a caller bug, not storage).
- Every backend may be used from several threads at once.
- Errors a retry may cure raise :class:`TransientError`; everything else is permanent.
- ``capabilities`` describes what the backend can do so callers can adapt (e.g. prune refuses
  on append-only storage).

Exception tree (all under :class:`coffer.errors.CofferError`, exit code 14)::

    BackendError
    ├── ObjectNotFound
    ├── ObjectExists
    ├── ShortRead
    ├── AppendOnlyError
    ├── StorageFull
    ├── TransientError        (timeouts, 5xx, throttling, resets: retryable)
    └── BackendConfigError    (bad URL, missing credentials, missing binary)
"""

from __future__ import annotations

import abc
import contextlib
import enum
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from coffer.errors import CofferError


class ObjectType(enum.Enum):
    """The kinds of object in a repository; the value is the top-level folder name."""

    CONFIG = "config"
    KEYS = "keys"
    DATA = "data"
    INDEX = "index"
    SNAPSHOTS = "snapshots"
    LOCKS = "locks"


class BackendError(CofferError):
    """A storage operation failed."""

    exit_code = 14


class ObjectNotFound(BackendError):
    """The named object does not exist."""


class ObjectExists(BackendError):
    """``save`` without ``overwrite`` found the name already taken."""


class ShortRead(BackendError):
    """The object is shorter than the requested range (truncated upload or corruption)."""


class AppendOnlyError(BackendError):
    """The backend only allows adding objects; deleting or replacing was refused."""


class StorageFull(BackendError):
    """The storage has no room left; nothing half-written became visible."""


class TransientError(BackendError):
    """A failure that a retry may cure (timeout, 5xx, 429/503 throttling, connection reset)."""


class BackendConfigError(BackendError):
    """The backend cannot be opened as configured (bad URL, credentials, missing binary)."""


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do; callers adapt rather than probe."""

    append_only: bool = False
    ranged_read: bool = True
    atomic_exclusive_create: bool = True
    """``save`` refuses an existing name atomically (False where If-None-Match is ignored)."""
    max_object_size: int | None = None
    remote: bool = False


_HEX64 = re.compile(r"[0-9a-f]{64}\Z")


def check_name(kind: ObjectType, name: str) -> str:
    """Validate an object name for ``kind`` and return it; raise ``ValueError`` otherwise.

    The single place where names are validated: it rules out path traversal and case tricks for
    every backend at once.
    """
    if kind is ObjectType.CONFIG:
        if name != "config":
            raise ValueError("the config object is named 'config'")
        return name
    if not _HEX64.match(name):
        raise ValueError(f"invalid {kind.value} object name: {name[:80]!r}")
    return name


def check_range(offset: int, length: int | None) -> None:
    """Reject negative ranges (a caller bug, hence ``ValueError``)."""
    if offset < 0 or (length is not None and length < 0):
        raise ValueError(f"invalid range: offset={offset} length={length}")


def slice_range(data: bytes, offset: int, length: int | None, what: str) -> bytes:
    """Cut ``[offset, offset + length)`` out of a whole object, raising :class:`ShortRead`."""
    check_range(offset, length)
    end = len(data) if length is None else offset + length
    if offset > len(data) or end > len(data):
        raise ShortRead(f"{what}: wanted bytes [{offset}, {end}) of a {len(data)}-byte object")
    return data[offset:end]


class NameLocks:
    """Serialise work on one name within a process (for backends whose server cannot).

    ``with locks.hold(key): ...`` waits while another thread holds ``key``. Backends without
    atomic exclusive create use it around ``save`` so threads racing to create one object get
    one winner and :class:`ObjectExists` (some servers lose the object when two uploads race).
    """

    def __init__(self) -> None:
        self._held: set[object] = set()
        self._cv = threading.Condition()

    @contextlib.contextmanager
    def hold(self, key: object) -> Iterator[None]:
        with self._cv:
            self._cv.wait_for(lambda: key not in self._held)
            self._held.add(key)
        try:
            yield
        finally:
            with self._cv:
                self._held.discard(key)
                self._cv.notify_all()


class Backend(abc.ABC):
    """Abstract object store; see the module docstring for the contract."""

    capabilities: Capabilities = Capabilities()

    @property
    @abc.abstractmethod
    def location(self) -> str:
        """A human-readable address of this store (no credentials)."""

    @abc.abstractmethod
    def save(self, kind: ObjectType, name: str, data: bytes, *, overwrite: bool = False) -> None:
        """Store ``data`` atomically under ``(kind, name)``."""

    @abc.abstractmethod
    def load(
        self, kind: ObjectType, name: str, offset: int = 0, length: int | None = None
    ) -> bytes:
        """Return the object's bytes, or the range ``[offset, offset + length)``."""

    @abc.abstractmethod
    def stat(self, kind: ObjectType, name: str) -> int:
        """Return the object's size in bytes."""

    @abc.abstractmethod
    def list(self, kind: ObjectType) -> Iterator[tuple[str, int]]:
        """Yield ``(name, size)`` for every object of ``kind``."""

    @abc.abstractmethod
    def remove(self, kind: ObjectType, name: str) -> None:
        """Delete the object."""

    def _list_config(self) -> Iterator[tuple[str, int]]:
        """``list(CONFIG)`` for stores where config is an ordinary object: it, or nothing."""
        try:
            size = self.stat(ObjectType.CONFIG, "config")
        except ObjectNotFound:
            return
        yield "config", size

    def modified(self, kind: ObjectType, name: str) -> float | None:
        """When the object was written (seconds since the epoch), if this store records it.

        ``None`` where the protocol has no such field. The time comes from the untrusted
        provider: callers use it only to choose between refusing and going on (see
        :mod:`coffer.ops.listing`), never to decide which bytes to trust.
        """
        self.stat(kind, name)  # ObjectNotFound for a missing object, like every other call
        return None

    def exists(self, kind: ObjectType, name: str) -> bool:
        """True when the object exists."""
        try:
            self.stat(kind, name)
        except ObjectNotFound:
            return False
        return True

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections or child processes; idempotent."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
