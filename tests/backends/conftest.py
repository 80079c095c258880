"""Fixtures for the backend tests: one ``backend`` fixture parametrised over every backend.

Each entry of ``FACTORIES`` builds a fresh, empty backend for one test; remote backends reuse
a module- or session-scoped server and get a fresh prefix per test.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from coffer.backends.base import Backend
from coffer.backends.local import LocalBackend
from coffer.backends.memory import MemoryBackend

Factory = Callable[[pytest.FixtureRequest], Backend]


def _memory(request: pytest.FixtureRequest) -> Backend:
    return MemoryBackend()


def _memory_named(request: pytest.FixtureRequest) -> Backend:
    name = f"test-{uuid.uuid4().hex}"
    request.addfinalizer(lambda: MemoryBackend.drop(name))
    return MemoryBackend.named(name)


def _local(request: pytest.FixtureRequest) -> Backend:
    tmp = request.getfixturevalue("tmp_path")
    return LocalBackend(tmp / "repo")


FACTORIES: dict[str, Factory] = {
    "memory": _memory,
    "memory-named": _memory_named,
    "local": _local,
}


@pytest.fixture(params=sorted(FACTORIES))
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    b = FACTORIES[request.param](request)
    try:
        yield b
    finally:
        b.close()
