"""The REST backend: restic's REST protocol v2 over HTTP(S) with httpx.

Rules:

- Address ``rest:http[s]://[user:password@]host[:port]/path/``; credentials may instead come
  from ``COFFER_REST_USERNAME`` / ``COFFER_REST_PASSWORD``. They never appear in ``location``
  or ``repr``.
- :class:`RestProtocolBackend` implements the backend contract for *any* transport that can
  send one :class:`~coffer.backends.restproto.Request` and return its
  :class:`~coffer.backends.restproto.Response`; connection failures must surface from the
  transport as :class:`TransientError`. :class:`HttpxTransport` is the TCP transport; the
  rclone backend supplies an HTTP/2-over-pipe one.
- The repository is created (``POST ?create=true``) once, before the first write.
- Saves of one name are serialised within the process, so threads racing to create one object
  get one winner and :class:`ObjectExists` (across processes the HEAD-then-POST race remains;
  Coffer's names are content-addressed or random, so it does not arise in practice).
- ``capabilities.append_only`` is probed on first use (see :mod:`coffer.backends.restproto`)
  unless given. Append-only servers still let clients delete ``locks/`` (restic's rule).
"""

from __future__ import annotations

import builtins
import os
import threading
from collections.abc import Iterator
from typing import Protocol
from urllib.parse import unquote, urlsplit

import httpx

from coffer.backends.base import (
    AppendOnlyError,
    Backend,
    BackendConfigError,
    Capabilities,
    NameLocks,
    ObjectExists,
    ObjectType,
    ShortRead,
    TransientError,
    check_range,
)
from coffer.backends.restproto import Request, Response, RestProtocol


class Transport(Protocol):
    """Sends one request and returns its response; raises TransientError when the link fails."""

    def send(self, request: Request) -> Response: ...

    def close(self) -> None: ...


class RestProtocolBackend(Backend):
    """The backend contract on top of :class:`RestProtocol` and a :class:`Transport`."""

    def __init__(
        self,
        transport: Transport,
        protocol: RestProtocol,
        location: str,
        *,
        append_only: bool | None = None,
    ) -> None:
        self._transport = transport
        self._proto = protocol
        self._location = location
        self._append_only = append_only
        self._created = False
        self._lock = threading.Lock()
        self._names = NameLocks()

    @property
    def location(self) -> str:
        return self._location

    @property
    def capabilities(self) -> Capabilities:  # type: ignore[override]
        return Capabilities(
            append_only=self.append_only, atomic_exclusive_create=False, remote=True
        )

    @property
    def append_only(self) -> bool:
        """Whether the server refuses deletes (probed once, without side effects)."""
        if self._append_only is None:
            resp = self._transport.send(self._proto.probe_append_only())
            self._append_only = RestProtocol.is_append_only(resp)
        return self._append_only

    def _ensure_created(self) -> None:
        with self._lock:
            if self._created:
                return
            resp = self._transport.send(self._proto.create())
            self._proto.check(resp, f"repository {self._location}")
            self._created = True

    def save(self, kind: ObjectType, name: str, data: bytes, *, overwrite: bool = False) -> None:
        req = self._proto.save(kind, name, data)
        with self._names.hold((kind, name)):  # rclone loses an object when uploads race
            self._save(req, kind, name, overwrite)

    def _save(self, req: Request, kind: ObjectType, name: str, overwrite: bool) -> None:
        what = f"{kind.value}/{name}"
        if not overwrite and self.exists(kind, name):
            raise ObjectExists(f"{what} already exists")
        self._ensure_created()
        resp = self._transport.send(req)
        if resp.status == 403 and self.append_only:
            if overwrite:
                raise AppendOnlyError(f"the server is append-only: it refused to replace {what}")
            raise ObjectExists(f"{what} already exists")
        self._proto.saved(resp, kind, name, req.body)

    def load(
        self, kind: ObjectType, name: str, offset: int = 0, length: int | None = None
    ) -> bytes:
        check_range(offset, length)
        what = f"{kind.value}/{name}"
        if length == 0 or (length is None and offset > 0):
            size = self.stat(kind, name)
            if offset > size:
                raise ShortRead(f"{what}: offset {offset} beyond the {size}-byte object")
            length = 0 if length == 0 else size - offset
            if length == 0:
                return b""
        resp = self._transport.send(self._proto.load(kind, name, offset, length))
        if resp.status == 404 and offset > 0 and self.exists(kind, name):
            # rclone over crypt answers 404 to a range beyond the end of an existing object
            raise ShortRead(f"{what}: requested range lies beyond the end of the object")
        return self._proto.loaded(resp, what, offset, length)

    def stat(self, kind: ObjectType, name: str) -> int:
        resp = self._transport.send(self._proto.stat(kind, name))
        return self._proto.size(resp, f"{kind.value}/{name}")

    def exists(self, kind: ObjectType, name: str) -> bool:
        """A one-byte GET, not HEAD: ``rclone serve restic`` caches objects for HEAD and can
        report an upload it removed after a dropped connection as still there; GET is exact."""
        resp = self._transport.send(self._proto.load(kind, name, 0, 1))
        if resp.status == 404:
            return False
        if 200 <= resp.status < 300 or resp.status == 416:  # 416: an empty object
            return True
        raise self._proto.error(resp, f"{kind.value}/{name}")

    def list(self, kind: ObjectType) -> Iterator[tuple[str, int]]:
        if kind is ObjectType.CONFIG:
            items = [("config", self.stat(kind, "config"))] if self.exists(kind, "config") else []
            yield from items
            return
        sized, unsized = self._proto.listed(self._transport.send(self._proto.list(kind)), kind)
        found: builtins.list[tuple[str, int]] = sized + [(n, self.stat(kind, n)) for n in unsized]
        yield from found

    def remove(self, kind: ObjectType, name: str) -> None:
        resp = self._transport.send(self._proto.remove(kind, name))
        what = f"{kind.value}/{name}"
        if resp.status == 403 and self.append_only:
            raise AppendOnlyError(f"the server is append-only: it refused to delete {what}")
        self._proto.check(resp, what)

    def close(self) -> None:
        self._transport.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._location!r})"


class HttpxTransport:
    """HTTP/1.1 over TCP (or TLS) with a pooled, thread-safe httpx client."""

    def __init__(self, origin: str, auth: tuple[str, str] | None = None) -> None:
        timeout = httpx.Timeout(30.0, read=300.0, write=300.0)
        self._client = httpx.Client(base_url=origin, auth=auth, timeout=timeout)

    def send(self, request: Request) -> Response:
        try:
            if request.max_body is None:
                r = self._client.request(
                    request.method, request.path, headers=request.headers, content=request.body
                )
                body = r.content
            else:
                with self._client.stream(
                    request.method, request.path, headers=request.headers, content=request.body
                ) as r:
                    body = _read_capped(r, request.max_body)
        except httpx.TransportError as exc:
            raise TransientError(f"{request.method} {request.path}: {exc!r}") from exc
        headers = {k.lower(): v for k, v in r.headers.items()}
        return Response(r.status_code, headers, body)

    def close(self) -> None:
        self._client.close()


def _read_capped(r: httpx.Response, cap: int) -> bytes:
    """At most ``cap`` bytes of a streamed body; what follows is read and dropped."""
    out = bytearray()
    for piece in r.iter_bytes():
        room = cap - len(out)
        if room > 0:
            out += piece[:room]
    return bytes(out)


def parse_url(url: str) -> tuple[str, str, tuple[str, str] | None]:
    """Split ``http[s]://user:pw@host:port/path/`` into (origin, path, credentials)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BackendConfigError(
            f"rest: needs an http(s) URL, e.g. rest:http://host:8000/repo/ ({url!r})"
        )
    user = unquote(parts.username) if parts.username else os.environ.get("COFFER_REST_USERNAME")
    password = parts.password or os.environ.get("COFFER_REST_PASSWORD")
    auth = (user, unquote(password or "")) if user else None
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}", parts.path or "/", auth


class RestBackend(RestProtocolBackend):
    """A repository on a restic REST server (rest-server, ``rclone serve restic``)."""

    def __init__(self, url: str, *, append_only: bool | None = None) -> None:
        origin, path, auth = parse_url(url)
        protocol = RestProtocol(path)
        super().__init__(
            HttpxTransport(origin, auth),
            protocol,
            f"rest:{origin}{protocol.base}",
            append_only=append_only,
        )
