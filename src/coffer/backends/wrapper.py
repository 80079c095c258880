"""The base of backend decorators: a :class:`Backend` that forwards to another backend.

Rules:

- A wrapper keeps the inner backend's contract: same errors, same capabilities, same location.
- Every operation goes through :meth:`Wrapper._call` with the operation's name and a zero-argument
  function doing the inner call, so a decorator (retry, limits, faults) overrides one method.
- ``list`` is materialised inside ``_call`` (a listing is one operation, retried or limited as a
  whole), then yielded.
- ``close`` closes the inner backend.

Theory of operation: decorators stack, e.g. ``RetryBackend(LimitedBackend(S3Backend(...)))``:
retries outermost, so each attempt waits for a connection slot and pays for its bandwidth.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator
from typing import TypeVar

from coffer.backends.base import Backend, Capabilities, ObjectType

T = TypeVar("T")

OPERATIONS = frozenset({"save", "load", "stat", "list", "remove"})


class Wrapper(Backend):
    """Forward everything to ``inner``; subclasses override :meth:`_call`."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner

    @property
    def capabilities(self) -> Capabilities:  # type: ignore[override]
        """The inner backend's (read when asked: some backends probe the server lazily)."""
        return self.inner.capabilities

    @property
    def location(self) -> str:
        return self.inner.location

    def _call(self, op: str, what: str, fn: Callable[[], T]) -> T:
        """Run one inner operation (``op`` in :data:`OPERATIONS`, ``what`` names the object)."""
        return fn()

    def save(self, kind: ObjectType, name: str, data: bytes, *, overwrite: bool = False) -> None:
        self._call(
            "save",
            f"{kind.value}/{name}",
            lambda: self.inner.save(kind, name, data, overwrite=overwrite),
        )

    def load(
        self, kind: ObjectType, name: str, offset: int = 0, length: int | None = None
    ) -> bytes:
        return self._call(
            "load", f"{kind.value}/{name}", lambda: self.inner.load(kind, name, offset, length)
        )

    def stat(self, kind: ObjectType, name: str) -> int:
        return self._call("stat", f"{kind.value}/{name}", lambda: self.inner.stat(kind, name))

    def modified(self, kind: ObjectType, name: str) -> float | None:
        return self._call("stat", f"{kind.value}/{name}", lambda: self.inner.modified(kind, name))

    def exists(self, kind: ObjectType, name: str) -> bool:
        # The inner backend's own ``exists`` (REST checks with a GET, not a cached HEAD).
        return self._call("stat", f"{kind.value}/{name}", lambda: self.inner.exists(kind, name))

    def list(self, kind: ObjectType) -> Iterator[tuple[str, int]]:
        items: builtins.list[tuple[str, int]] = self._call(
            "list", f"{kind.value}/", lambda: builtins.list(self.inner.list(kind))
        )
        yield from items

    def remove(self, kind: ObjectType, name: str) -> None:
        self._call("remove", f"{kind.value}/{name}", lambda: self.inner.remove(kind, name))

    def close(self) -> None:
        self.inner.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.inner!r})"


def unwrap(backend: Backend) -> Backend:
    """The innermost backend under any number of decorators."""
    while isinstance(backend, Wrapper):
        backend = backend.inner
    return backend
