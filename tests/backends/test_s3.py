"""S3Backend specifics against a real ``rclone serve s3``: addresses, credentials, errors."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from coffer.backends.base import (
    BackendConfigError,
    BackendError,
    ObjectNotFound,
    ObjectType,
    TransientError,
)
from coffer.backends.registry import open_backend
from coffer.backends.s3 import S3Backend, parse_address
from coffer.backends.wrapper import unwrap

from .servers import S3_KEY, S3_SECRET, Server, free_port


def oid(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


@pytest.mark.parametrize(
    "address,expected",
    [
        ("https://s3.example.com:9000/bkt/a/b", ("https://s3.example.com:9000", "bkt", "a/b")),
        ("http://user:pw@127.0.0.1:80/bkt", ("http://127.0.0.1:80", "bkt", "")),
        ("http://h/bkt/p/", ("http://h", "bkt", "p")),
    ],
)
def test_parse_address_with_endpoint(address: str, expected: tuple[str, str, str]) -> None:
    assert parse_address(address) == expected


def test_parse_address_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    assert parse_address("bucket/some/prefix") == (None, "bucket", "some/prefix")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://minio:9000")
    assert parse_address("bucket") == ("http://minio:9000", "bucket", "")


@pytest.mark.parametrize("address", ["", "/", "https:///x", "http://host"])
def test_parse_address_errors(address: str) -> None:
    with pytest.raises(BackendConfigError):
        parse_address(address)


def test_open_through_registry_with_env_credentials(
    s3_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", S3_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", S3_SECRET)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    prefix = f"reg/{uuid.uuid4().hex}"
    with open_backend(f"s3:{s3_server.url}/coffer/{prefix}") as b:
        assert isinstance(unwrap(b), S3Backend)
        assert b.capabilities.remote and not b.capabilities.atomic_exclusive_create
        b.save(ObjectType.CONFIG, "config", b"cfg")
        assert b.load(ObjectType.CONFIG, "config") == b"cfg"
        assert S3_SECRET not in b.location
    assert (s3_server.root / "coffer" / prefix / "config").read_bytes() == b"cfg"


def test_layout_on_the_server(s3_server: Server) -> None:
    b = S3Backend(
        "coffer", "lay", endpoint_url=s3_server.url, access_key=S3_KEY, secret_key=S3_SECRET
    )
    d = oid("layout")
    b.save(ObjectType.DATA, d, b"x", overwrite=True)
    assert (s3_server.root / "coffer" / "lay" / "data" / d[:2] / d).read_bytes() == b"x"


def test_wrong_credentials_are_a_permanent_error_with_message(s3_server: Server) -> None:
    b = S3Backend("coffer", "p", endpoint_url=s3_server.url, access_key=S3_KEY, secret_key="wrong")
    with pytest.raises(BackendError) as info:
        b.save(ObjectType.KEYS, oid("k"), b"x", overwrite=True)
    assert not isinstance(info.value, TransientError)
    assert "403" in str(info.value) or "denied" in str(info.value).lower()


def test_missing_bucket_is_permanent(s3_server: Server) -> None:
    b = S3Backend(
        "no-such-bucket", "", endpoint_url=s3_server.url, access_key=S3_KEY, secret_key=S3_SECRET
    )
    with pytest.raises(BackendError) as info:
        b.save(ObjectType.KEYS, oid("k"), b"x", overwrite=True)
    assert not isinstance(info.value, (TransientError, ObjectNotFound))


def test_unreachable_server_is_transient() -> None:
    b = S3Backend(
        "coffer", "", endpoint_url=f"http://127.0.0.1:{free_port()}", access_key="k", secret_key="s"
    )
    with pytest.raises(TransientError, match="connection"):
        b.stat(ObjectType.CONFIG, "config")
