"""open_backend: address parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from coffer.backends.base import BackendConfigError, ObjectType
from coffer.backends.limits import LimitedBackend
from coffer.backends.local import LocalBackend
from coffer.backends.memory import MemoryBackend
from coffer.backends.registry import BackendOptions, open_backend
from coffer.backends.rest import RestBackend
from coffer.backends.retry import RetryBackend
from coffer.backends.wrapper import unwrap

from .servers import Server


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


def test_remote_backends_come_with_retry_and_limits(rest_server: Server) -> None:
    b = open_backend(f"rest:{rest_server.url}/wrapped/")
    assert isinstance(b, RetryBackend) and b.attempts == 6
    assert isinstance(b.inner, LimitedBackend) and b.inner.connections == 4
    assert b.inner.upload is None and b.inner.download is None
    assert isinstance(unwrap(b), RestBackend)
    assert b.location == unwrap(b).location
    b.close()


def test_options(rest_server: Server, tmp_path: Path) -> None:
    opts = BackendOptions(retry=False, connections=2, upload_kib=512, download_kib=1024)
    b = open_backend(f"rest:{rest_server.url}/opts/", opts)
    assert isinstance(b, LimitedBackend) and b.connections == 2
    assert b.upload is not None and b.upload.rate == 512 * 1024
    assert b.download is not None and b.download.rate == 1024 * 1024
    b.close()
    local = open_backend(str(tmp_path), BackendOptions(upload_kib=100))
    assert isinstance(local, LimitedBackend) and isinstance(local.inner, LocalBackend)


def test_options_from_environment() -> None:
    opts = BackendOptions.from_env(
        {"COFFER_LIMIT_UPLOAD": "256", "COFFER_LIMIT_DOWNLOAD": "1024.5", "COFFER_CONNECTIONS": "8"}
    )
    assert (opts.upload_kib, opts.download_kib, opts.connections) == (256, 1024.5, 8)
    assert BackendOptions.from_env({}) == BackendOptions()
    for bad in ("0", "-3", "fast"):
        with pytest.raises(BackendConfigError, match="COFFER_LIMIT_UPLOAD"):
            BackendOptions.from_env({"COFFER_LIMIT_UPLOAD": bad})
