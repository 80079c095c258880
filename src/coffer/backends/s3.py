"""Any S3-compatible object store (AWS S3, GCS interoperability, MinIO, Ceph RGW, rclone) via boto3.

Rules:

- Address: ``s3:https://host:port/bucket/prefix`` (custom endpoint, path-style addressing by
  default) or ``s3:bucket/prefix`` (AWS; endpoint from ``AWS_ENDPOINT_URL`` if set).
  ``COFFER_S3_ADDRESSING_STYLE`` (``path``/``virtual``/``auto``) overrides the style.
  Region and credentials come from the usual AWS chain (``AWS_ACCESS_KEY_ID``/``…SECRET…``,
  ``AWS_PROFILE``, ``~/.aws/config`` and ``credentials``, instance roles); never from the address.
- Keys mirror the local layout under the prefix: ``<prefix>/config``, ``<prefix>/data/ab/<id>``…
- Objects up to 8 MiB are one ``PutObject``; larger ones a multipart upload of 8 MiB parts,
  aborted on any failure. Both are atomic on S3: nothing is visible before completion.
- Exclusive create is HEAD-then-PUT: ``rclone serve s3`` (and older S3 servers) ignore
  ``If-None-Match``, so ``capabilities.atomic_exclusive_create`` is False. Saves of one key are
  serialised within the process (:class:`NameLocks`); across processes the race remains and is
  harmless, Coffer's names being content hashes or random.
- ``remove`` does HEAD first, since S3's DELETE of a missing key succeeds silently.
- Errors: NoSuchKey/404 → :class:`ObjectNotFound`; InvalidRange/416 → :class:`ShortRead`;
  5xx, throttling (429, SlowDown, …) and connection failures → :class:`TransientError`;
  403 → :class:`BackendError` with the server's message; missing credentials →
  :class:`BackendConfigError`. botocore's own retries are off: retry is
  :class:`coffer.backends.retry.RetryBackend`'s job (no retry storms of retries).
- Checksums only "when required" (boto3 ≥ 1.36 default "when supported" breaks ranged reads
  on several S3-compatible servers); the engine authenticates every byte anyway.
"""

from __future__ import annotations

import builtins
import contextlib
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from coffer.backends.base import (
    Backend,
    BackendConfigError,
    BackendError,
    Capabilities,
    NameLocks,
    ObjectExists,
    ObjectNotFound,
    ObjectType,
    ShortRead,
    TransientError,
    check_name,
    check_range,
)

MULTIPART_THRESHOLD = 8 * 1024 * 1024
PART_SIZE = 8 * 1024 * 1024

_NOT_FOUND = {"NoSuchKey", "404", "NotFound"}
_THROTTLED = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "TooManyRequests",
    "RequestTimeout",
    "InternalError",
    "ServiceUnavailable",
}


def map_error(exc: Exception, what: str) -> BackendError:
    """Translate a boto3/botocore exception into Coffer's tree (see the module docstring)."""
    from botocore import exceptions as bx

    if isinstance(exc, bx.ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        message = err.get("Message") or code or str(exc)
        if code in _NOT_FOUND or (status == 404 and code != "NoSuchBucket"):
            return ObjectNotFound(f"{what} not found")
        if code == "InvalidRange" or status == 416:
            return ShortRead(f"{what}: requested range lies beyond the end of the object")
        if code in _THROTTLED or status == 429 or status >= 500:
            return TransientError(f"{what}: S3 server error {status} {code}: {message}")
        if status == 403:
            return BackendError(f"{what}: access denied by the S3 server ({code}): {message}")
        return BackendError(f"{what}: S3 error {status} {code}: {message}")
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return BackendConfigError(f"no S3 credentials found ({exc}); set AWS_ACCESS_KEY_ID etc.")
    if isinstance(exc, bx.HTTPClientError | bx.ConnectionError | ConnectionError | TimeoutError):
        return TransientError(f"{what}: connection to the S3 server failed: {exc}")
    return BackendError(f"{what}: {exc}")


def parse_address(rest: str) -> tuple[str | None, str, str]:
    """Split an address (without ``s3:``) into ``(endpoint_url, bucket, prefix)``."""
    endpoint: str | None
    if rest.startswith(("http://", "https://")):
        url = urlsplit(rest)
        if not url.hostname:
            raise BackendConfigError(f"s3 address without a host: {rest!r}")
        if "@" in url.netloc:
            raise BackendConfigError(
                "S3 credentials do not belong in the address (it is shown in logs): set "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE"
            )
        endpoint = f"{url.scheme}://{url.netloc}"
        path = url.path
    else:
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        path = rest
    bucket, _, prefix = path.strip("/").partition("/")
    if not bucket:
        raise BackendConfigError(f"s3 address without a bucket: {rest!r} (s3:BUCKET/PREFIX)")
    return endpoint, bucket, prefix.strip("/")


class S3Backend(Backend):
    """Objects in one bucket under one prefix; see the module docstring."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        addressing_style: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        connections: int = 10,
    ) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._endpoint = endpoint_url
        style = addressing_style or os.environ.get("COFFER_S3_ADDRESSING_STYLE")
        style = style or ("path" if endpoint_url else "auto")
        if style not in ("path", "virtual", "auto"):
            raise BackendConfigError(
                f"S3 addressing style must be path, virtual or auto: {style!r}"
            )
        config = Config(
            s3={"addressing_style": style},  # type: ignore[arg-type]
            retries={"total_max_attempts": 1, "mode": "standard"},
            max_pool_connections=connections,
            connect_timeout=30,
            read_timeout=120,
            response_checksum_validation="when_required",
            request_checksum_calculation="when_required",
        )
        session = boto3.session.Session()
        self._client: Any = session.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region or session.region_name or "us-east-1",
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=config,
        )
        self.capabilities = Capabilities(atomic_exclusive_create=False, remote=True)
        self._names = NameLocks()

    @classmethod
    def from_address(cls, rest: str) -> S3Backend:
        endpoint, bucket, prefix = parse_address(rest)
        return cls(bucket, prefix, endpoint_url=endpoint)

    @property
    def location(self) -> str:
        where = f"{self._endpoint}/" if self._endpoint else ""
        return f"s3:{where}{self.bucket}/{self.prefix}".rstrip("/")

    def _key(self, kind: ObjectType, name: str) -> str:
        check_name(kind, name)
        if kind is ObjectType.CONFIG:
            rel = "config"
        elif kind is ObjectType.DATA:
            rel = f"data/{name[:2]}/{name}"
        else:
            rel = f"{kind.value}/{name}"
        return f"{self.prefix}/{rel}" if self.prefix else rel

    # -- writing ---------------------------------------------------------------------------

    def save(self, kind: ObjectType, name: str, data: bytes, *, overwrite: bool = False) -> None:
        key = self._key(kind, name)
        with self._names.hold(key):
            self._save(key, kind, name, data, overwrite)

    def _save(self, key: str, kind: ObjectType, name: str, data: bytes, overwrite: bool) -> None:
        what = f"{kind.value}/{name}"
        if not overwrite and self.exists(kind, name):
            raise ObjectExists(f"{what} already exists")
        try:
            if len(data) > MULTIPART_THRESHOLD:
                self._multipart(key, data)
            else:
                self._client.put_object(Bucket=self.bucket, Key=key, Body=data)
        except BackendError:
            raise
        except Exception as exc:
            raise map_error(exc, what) from exc

    def _multipart(self, key: str, data: bytes) -> None:
        upload = self._client.create_multipart_upload(Bucket=self.bucket, Key=key)
        upload_id = upload["UploadId"]
        try:
            parts = []
            view = memoryview(data)
            for number, start in enumerate(range(0, len(data), PART_SIZE), start=1):
                reply = self._client.upload_part(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=bytes(view[start : start + PART_SIZE]),
                )
                parts.append({"PartNumber": number, "ETag": reply["ETag"]})
            self._client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            with contextlib.suppress(Exception):  # best effort; the original error matters
                self._client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            raise

    # -- reading ---------------------------------------------------------------------------

    def load(
        self, kind: ObjectType, name: str, offset: int = 0, length: int | None = None
    ) -> bytes:
        check_range(offset, length)
        key = self._key(kind, name)
        what = f"{kind.value}/{name}"
        if length == 0 or (length is None and offset > 0):
            size = self.stat(kind, name)
            end = size if length is None else offset
            if offset > size:
                raise ShortRead(f"{what}: offset {offset} beyond the {size}-byte object")
            if end == offset:
                return b""
            length = end - offset
        extra = {} if length is None else {"Range": f"bytes={offset}-{offset + length - 1}"}
        try:
            reply = self._client.get_object(Bucket=self.bucket, Key=key, **extra)
            body = reply["Body"]
            # a ranged read takes at most one byte more than asked: a server that sends more
            # (ignoring Range, or lying) costs no more memory than the caller's size allowed
            data: bytes = body.read() if length is None else body.read(length + 1)
            body.close()
        except Exception as exc:
            raise map_error(exc, what) from exc
        if length is not None and len(data) != length:
            raise ShortRead(f"{what}: wanted {length} bytes at {offset}, got {len(data)}")
        return data

    def stat(self, kind: ObjectType, name: str) -> int:
        key = self._key(kind, name)
        try:
            reply = self._client.head_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            raise map_error(exc, f"{kind.value}/{name}") from exc
        return int(reply["ContentLength"])

    def list(self, kind: ObjectType) -> Iterator[tuple[str, int]]:
        if kind is ObjectType.CONFIG:
            yield from self._list_config()
            return
        found: builtins.list[tuple[str, int]] = []
        folder = f"{self.prefix}/{kind.value}/" if self.prefix else f"{kind.value}/"
        try:
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=folder
            )
            for page in pages:
                for item in page.get("Contents", []):
                    found.extend(self._listed(kind, item))
        except Exception as exc:
            raise map_error(exc, f"{kind.value}/") from exc
        yield from found

    @staticmethod
    def _listed(kind: ObjectType, item: dict[str, Any]) -> builtins.list[tuple[str, int]]:
        name = str(item["Key"]).rpartition("/")[2]
        try:
            check_name(kind, name)
        except ValueError:
            return []  # not ours (a stray upload or a folder marker)
        return [(name, int(item["Size"]))]

    # -- removing --------------------------------------------------------------------------

    def remove(self, kind: ObjectType, name: str) -> None:
        key = self._key(kind, name)
        self.stat(kind, name)  # S3's DELETE is silent about missing keys
        try:
            self._client.delete_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            raise map_error(exc, f"{kind.value}/{name}") from exc

    def close(self) -> None:
        self._client.close()

    def __repr__(self) -> str:
        return f"S3Backend({self.location!r})"
