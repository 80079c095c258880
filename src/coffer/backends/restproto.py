"""restic's REST backend protocol v2, sans I/O: requests out, responses in, no sockets.

Rules:

- The repository lives under a base path ending in ``/``. ``config`` is ``{path}config``;
  every other object is ``{path}{type}/{name}`` — the server does the ``data/ab/`` fan-out.
- Listings send ``Accept: application/vnd.x.restic.rest.v2`` and expect ``[{"name", "size"}]``;
  a v1 answer (a list of names) is accepted too, sizes then come from one HEAD per name.
- ``POST {path}?create=true`` creates the repository (200 when it exists already).
- The protocol has no conditional create, so exclusive create is HEAD-then-POST
  (``atomic_exclusive_create=False``); an append-only server refuses to replace an object
  with 403, which then means "exists".
- Status mapping: 2xx ok; 404 → :class:`ObjectNotFound`; 416 or a short 206 →
  :class:`ShortRead`; 403 on DELETE or on a replacing POST of an append-only server →
  :class:`AppendOnlyError` ("the server is append-only: …"); 401/403 otherwise →
  :class:`BackendError` (credentials); 408, 429, 5xx → :class:`TransientError`; anything else
  → :class:`BackendError` with the status and the server's text.
- restic's rest-server verifies by default that a POSTed object's name is the SHA-256 of its body
  and answers 400 otherwise; every Coffer object but ``config`` is named that way, so a 400 is a
  genuine error.
- Append-only detection needs no configuration: a DELETE of a name that cannot exist (all
  zeros) answers 404 on a normal server and 403 on an append-only one (rest-server, rclone).

Theory of operation: :class:`RestProtocol` only builds :class:`Request` objects and turns
:class:`Response` objects into results or exceptions, so the same code drives httpx over TCP
(:mod:`coffer.backends.rest`) and HTTP/2 over rclone's stdin/stdout (:mod:`coffer.backends.rclone`).
"""

from __future__ import annotations

import builtins
import json
from dataclasses import dataclass, field

from coffer.backends.base import (
    AppendOnlyError,
    BackendError,
    ObjectNotFound,
    ObjectType,
    ShortRead,
    TransientError,
    check_name,
)

V2 = "application/vnd.x.restic.rest.v2"
PROBE_NAME = "0" * 64


@dataclass(frozen=True)
class Request:
    """One HTTP request; ``path`` is absolute (starts with ``/``) and includes any query."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    max_body: int | None = None
    """Keep at most this many bytes of the response body; the rest is read and dropped.

    A ranged read sets it, so a server that sends more than the range (or the whole object
    when it ignores Range) costs no more memory than the caller's size, checked beforehand
    (:mod:`coffer.engine.limits`), allowed; :meth:`RestProtocol.loaded` then sees the mismatch.
    """


@dataclass(frozen=True)
class Response:
    """One HTTP response; header names in lower case."""

    status: int
    headers: dict[str, str]
    body: bytes


def _snippet(body: bytes) -> str:
    return body[:200].decode("utf-8", "replace").strip()


class RestProtocol:
    """Request builder and response mapper for one repository path."""

    def __init__(self, base_path: str = "/") -> None:
        if not base_path.startswith("/"):
            base_path = "/" + base_path
        self.base = base_path if base_path.endswith("/") else base_path + "/"

    def path(self, kind: ObjectType, name: str) -> str:
        check_name(kind, name)
        if kind is ObjectType.CONFIG:
            return f"{self.base}config"
        return f"{self.base}{kind.value}/{name}"

    # -- requests --------------------------------------------------------------------------

    def create(self) -> Request:
        return Request("POST", f"{self.base}?create=true")

    def save(self, kind: ObjectType, name: str, data: bytes) -> Request:
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(len(data))}
        return Request("POST", self.path(kind, name), headers, data)

    def load(self, kind: ObjectType, name: str, offset: int, length: int | None) -> Request:
        headers = {}
        cap = None
        if length is not None:
            headers["Range"] = f"bytes={offset}-{offset + length - 1}"
            cap = offset + length + 1  # a whole object sent instead still holds the range
        elif offset:
            headers["Range"] = f"bytes={offset}-"
        return Request("GET", self.path(kind, name), headers, max_body=cap)

    def stat(self, kind: ObjectType, name: str) -> Request:
        return Request("HEAD", self.path(kind, name))

    def list(self, kind: ObjectType) -> Request:
        return Request("GET", f"{self.base}{kind.value}/", {"Accept": V2})

    def remove(self, kind: ObjectType, name: str) -> Request:
        return Request("DELETE", self.path(kind, name))

    def probe_append_only(self) -> Request:
        return Request("DELETE", f"{self.base}data/{PROBE_NAME}")

    # -- responses -------------------------------------------------------------------------

    @staticmethod
    def error(resp: Response, what: str, *, append_only: bool = False) -> BackendError:
        """The exception for a non-2xx response."""
        status, text = resp.status, _snippet(resp.body)
        if status == 404:
            return ObjectNotFound(f"{what} not found")
        if status == 416:
            return ShortRead(f"{what}: requested range lies beyond the end of the object")
        if status == 403 and append_only:
            return AppendOnlyError(f"the server is append-only: it refused to change {what}")
        if status in (401, 403):
            return BackendError(f"{what}: the REST server refused access ({status} {text})")
        if status in (408, 429) or status >= 500:
            return TransientError(f"{what}: REST server error {status} {text}")
        return BackendError(f"{what}: REST server answered {status} {text}")

    def check(self, resp: Response, what: str) -> None:
        if not 200 <= resp.status < 300:
            raise self.error(resp, what)

    def loaded(self, resp: Response, what: str, offset: int, length: int | None) -> bytes:
        self.check(resp, what)
        body = resp.body
        if resp.status == 200 and (offset or length is not None):
            body = body[offset:]  # the server ignored Range and sent the whole object
            if length is not None:
                body = body[:length]
        if length is not None and len(body) != length:
            raise ShortRead(f"{what}: wanted {length} bytes at {offset}, got {len(body)}")
        return body

    def size(self, resp: Response, what: str) -> int:
        self.check(resp, what)
        try:
            return int(resp.headers["content-length"])
        except (KeyError, ValueError):
            raise BackendError(f"{what}: the REST server sent no Content-Length") from None

    def listed(
        self, resp: Response, kind: ObjectType
    ) -> tuple[builtins.list[tuple[str, int]], builtins.list[str]]:
        """Return ``(named with size, names needing a HEAD)`` of a v2 (or v1) listing."""
        if resp.status == 404:
            return [], []  # the type folder does not exist yet
        self.check(resp, f"{kind.value}/")
        try:
            items = json.loads(resp.body)
        except ValueError:
            raise BackendError(f"{kind.value}/: the REST server sent an invalid listing") from None
        sized: builtins.list[tuple[str, int]] = []
        unsized: builtins.list[str] = []
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict):
                name, size = str(item.get("name", "")), item.get("size")
            else:
                name, size = str(item), None
            if not _valid(kind, name):
                continue
            if isinstance(size, int):
                sized.append((name, size))
            else:
                unsized.append(name)
        return sized, unsized

    @staticmethod
    def saved(resp: Response, kind: ObjectType, name: str, data: bytes) -> None:
        """Check a POST's answer."""
        what = f"{kind.value}/{name}"
        if not 200 <= resp.status < 300:
            raise RestProtocol.error(resp, what)

    @staticmethod
    def is_append_only(resp: Response) -> bool:
        return resp.status == 403


def _valid(kind: ObjectType, name: str) -> bool:
    try:
        check_name(kind, name)
    except ValueError:
        return False
    return True
