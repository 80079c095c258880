"""S3Backend specifics against a real ``rclone serve s3``: addresses, credentials, errors."""

from __future__ import annotations

import hashlib
import os
import uuid

import pytest

from coffer.backends.base import (
    BackendConfigError,
    BackendError,
    ObjectNotFound,
    ObjectType,
    ShortRead,
    TransientError,
)
from coffer.backends.registry import open_backend
from coffer.backends.s3 import S3Backend, map_error, parse_address
from coffer.backends.wrapper import unwrap

from .servers import S3_KEY, S3_SECRET, Server, free_port


def oid(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


@pytest.mark.parametrize(
    "address,expected",
    [
        ("https://s3.example.com:9000/bkt/a/b", ("https://s3.example.com:9000", "bkt", "a/b")),
        ("http://127.0.0.1:80/bkt", ("http://127.0.0.1:80", "bkt", "")),
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


def test_credentials_in_the_address_are_refused() -> None:
    with pytest.raises(BackendConfigError, match="AWS_ACCESS_KEY_ID") as info:
        parse_address("https://AKIA:topsecret@s3.example.com/bkt")
    assert "topsecret" not in str(info.value)


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


def _client_error(status: int, code: str, message: str = "msg") -> Exception:
    from botocore.exceptions import ClientError

    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "PutObject",
    )


@pytest.mark.parametrize(
    "status,code,expected",
    [
        (404, "NoSuchKey", ObjectNotFound),
        (404, "404", ObjectNotFound),
        (416, "InvalidRange", ShortRead),
        (503, "SlowDown", TransientError),
        (500, "InternalError", TransientError),
        (429, "TooManyRequests", TransientError),
        (400, "RequestTimeout", TransientError),
        (403, "AccessDenied", BackendError),
        (404, "NoSuchBucket", BackendError),
        (400, "InvalidArgument", BackendError),
    ],
)
def test_error_mapping(status: int, code: str, expected: type[BackendError]) -> None:
    exc = map_error(_client_error(status, code, "the server's words"), "data/x")
    assert type(exc) is expected
    if expected is BackendError:
        assert "the server's words" in str(exc)


def test_connection_errors_are_transient_and_missing_credentials_config() -> None:
    from botocore.exceptions import EndpointConnectionError, NoCredentialsError, ReadTimeoutError

    assert isinstance(
        map_error(EndpointConnectionError(endpoint_url="http://x"), "w"), TransientError
    )
    assert isinstance(map_error(ReadTimeoutError(endpoint_url="http://x"), "w"), TransientError)
    assert isinstance(map_error(NoCredentialsError(), "w"), BackendConfigError)


def test_failed_multipart_upload_leaves_nothing_visible(s3_server: Server) -> None:
    b = S3Backend(
        "coffer",
        f"mp/{uuid.uuid4().hex}",
        endpoint_url=s3_server.url,
        access_key=S3_KEY,
        secret_key=S3_SECRET,
    )
    parts: list[int] = []

    def fail_second_part(params: dict[str, object], **_: object) -> None:
        parts.append(1)
        if len(parts) == 2:
            raise ConnectionResetError("connection dropped mid-upload")

    b._client.meta.events.register("before-call.s3.UploadPart", fail_second_part)
    name = oid("multipart")
    with pytest.raises(TransientError, match="connection dropped"):
        b.save(ObjectType.DATA, name, os.urandom(20 * 1024 * 1024))
    assert len(parts) == 2
    assert not b.exists(ObjectType.DATA, name)
    assert list(b.list(ObjectType.DATA)) == []
    pending = b._client.list_multipart_uploads(Bucket="coffer", Prefix=b.prefix)
    assert pending.get("Uploads", []) == [], "the multipart upload was not aborted"
