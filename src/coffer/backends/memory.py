"""An in-memory backend for tests and in-process demos.

Rules:

- Follows the contract of :mod:`coffer.backends.base` exactly, including ``ObjectExists``,
  ``ShortRead`` and name validation, so code tested against it behaves the same on disk.
- Thread-safe: one lock guards the object table; every operation is atomic.
- ``MemoryBackend.named(name)`` returns a backend over a process-wide store of that name, so
  several backends (e.g. the CLI and a test, both in one process) can share one repository
  through the address ``memory:NAME``. Anonymous backends own a private store.

Theory of operation: a dict ``(ObjectType, name) -> bytes`` behind a ``threading.Lock``; bytes
are immutable, so a loaded object can be handed out without copying.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from coffer.backends.base import (
    Backend,
    Capabilities,
    ObjectExists,
    ObjectNotFound,
    ObjectType,
    check_name,
    slice_range,
)


class _Store:
    """The object table and its lock (shared by every backend opened on one name)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.objects: dict[tuple[ObjectType, str], bytes] = {}


_NAMED: dict[str, _Store] = {}
_NAMED_LOCK = threading.Lock()


class MemoryBackend(Backend):
    """Objects held in a dict; see the module docstring."""

    capabilities = Capabilities()

    def __init__(self, name: str = "", *, _store: _Store | None = None) -> None:
        self._name = name
        self._store = _store if _store is not None else _Store()

    @classmethod
    def named(cls, name: str) -> MemoryBackend:
        """A backend over the process-wide store ``name`` (created empty on first use)."""
        with _NAMED_LOCK:
            store = _NAMED.setdefault(name, _Store())
        return cls(name, _store=store)

    @staticmethod
    def drop(name: str) -> None:
        """Forget the process-wide store ``name`` (no-op when absent)."""
        with _NAMED_LOCK:
            _NAMED.pop(name, None)

    @property
    def location(self) -> str:
        return f"memory:{self._name}" if self._name else "memory:"

    def save(self, kind: ObjectType, name: str, data: bytes, *, overwrite: bool = False) -> None:
        key = (kind, check_name(kind, name))
        frozen = bytes(data)
        with self._store.lock:
            if not overwrite and key in self._store.objects:
                raise ObjectExists(f"{kind.value}/{name} already exists")
            self._store.objects[key] = frozen

    def _get(self, kind: ObjectType, name: str) -> bytes:
        key = (kind, check_name(kind, name))
        with self._store.lock:
            try:
                return self._store.objects[key]
            except KeyError:
                raise ObjectNotFound(f"{kind.value}/{name} not found") from None

    def load(
        self, kind: ObjectType, name: str, offset: int = 0, length: int | None = None
    ) -> bytes:
        data = self._get(kind, name)
        return slice_range(data, offset, length, f"{kind.value}/{name}")

    def stat(self, kind: ObjectType, name: str) -> int:
        return len(self._get(kind, name))

    def list(self, kind: ObjectType) -> Iterator[tuple[str, int]]:
        with self._store.lock:
            found = [(n, len(d)) for (k, n), d in self._store.objects.items() if k is kind]
        yield from found

    def remove(self, kind: ObjectType, name: str) -> None:
        key = (kind, check_name(kind, name))
        with self._store.lock:
            if self._store.objects.pop(key, None) is None:
                raise ObjectNotFound(f"{kind.value}/{name} not found")

    def __repr__(self) -> str:
        return f"MemoryBackend({self.location!r})"
