"""open_backend: address parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from coffer.backends.base import BackendConfigError, ObjectType
from coffer.backends.local import LocalBackend
from coffer.backends.memory import MemoryBackend
from coffer.backends.registry import open_backend


def test_plain_path_and_local_scheme(tmp_path: Path) -> None:
    for address in (str(tmp_path), f"local:{tmp_path}"):
        b = open_backend(address)
        assert isinstance(b, LocalBackend)
        assert b.root == tmp_path


def test_relative_path_is_local() -> None:
    b = open_backend("some/relative/dir")
    assert isinstance(b, LocalBackend)


def test_memory_stores_are_shared_by_name() -> None:
    try:
        a = open_backend("memory:shared-test")
        b = open_backend("memory:shared-test")
        other = open_backend("memory:other-test")
        assert isinstance(a, MemoryBackend)
        a.save(ObjectType.CONFIG, "config", b"cfg")
        assert b.load(ObjectType.CONFIG, "config") == b"cfg"
        assert not other.exists(ObjectType.CONFIG, "config")
    finally:
        MemoryBackend.drop("shared-test")
        MemoryBackend.drop("other-test")


@pytest.mark.parametrize("address", ["ftp://host/x", "gdrive:foo", "nosuch:thing"])
def test_unknown_scheme(address: str) -> None:
    with pytest.raises(BackendConfigError, match="unknown repository address scheme"):
        open_backend(address)


@pytest.mark.parametrize("address", ["", "   ", "local:"])
def test_empty_addresses(address: str) -> None:
    with pytest.raises(BackendConfigError):
        open_backend(address)
