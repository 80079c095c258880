"""A client that drops the connection mid-upload leaves nothing visible (real servers, raw sockets).

Each test first sends the same request in full (the control: the server accepts it), then
sends a second object's headers and half its body and closes the socket.
"""

from __future__ import annotations

import hashlib
import socket
import time
import uuid
from collections.abc import Callable

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from coffer.backends.base import Backend, ObjectType
from coffer.backends.rest import RestBackend
from coffer.backends.s3 import S3Backend

from .servers import S3_KEY, S3_SECRET, Server

SIZE = 1_000_000


def oid(seed: str) -> str:
    return hashlib.sha256(seed.encode() + uuid.uuid4().bytes).hexdigest()


def _send(server: Server, head: bytes, body: bytes, *, complete: bool) -> bytes:
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(head + (body if complete else body[: len(body) // 2]))
        if not complete:
            return b""
        return s.recv(200)


def _settled(backend: Backend, name: str) -> bool:
    """Poll briefly: the server notices the EOF asynchronously."""
    for _ in range(200):
        if not backend.exists(ObjectType.DATA, name) and not list(backend.list(ObjectType.DATA)):
            return True
        time.sleep(0.05)
    return False


def _check(backend: Backend, server: Server, request: Callable[[str], bytes]) -> None:
    body = b"x" * SIZE
    control = oid("control")
    reply = _send(server, request(control), body, complete=True)
    assert reply.startswith(b"HTTP/1.1 200"), reply
    assert backend.stat(ObjectType.DATA, control) == SIZE
    backend.remove(ObjectType.DATA, control)
    dropped = oid("dropped")
    _send(server, request(dropped), body, complete=False)
    assert _settled(backend, dropped), "a partial upload stayed visible"
    backend.save(ObjectType.DATA, dropped, body)  # the retry is not mistaken for a duplicate
    assert backend.load(ObjectType.DATA, dropped) == body


def test_rest_dropped_upload(rest_server: Server) -> None:
    repo = f"drop-{uuid.uuid4().hex}"
    host = rest_server.url.removeprefix("http://")

    def request(name: str) -> bytes:
        return (
            f"POST /{repo}/data/{name} HTTP/1.1\r\nHost: {host}\r\n"
            f"Content-Length: {SIZE}\r\nConnection: close\r\n\r\n"
        ).encode()

    with RestBackend(f"{rest_server.url}/{repo}/") as backend:
        _check(backend, rest_server, request)


def test_s3_dropped_upload(s3_server: Server) -> None:
    prefix = f"drop-{uuid.uuid4().hex}"
    host = s3_server.url.removeprefix("http://")

    def request(name: str) -> bytes:
        path = f"/coffer/{prefix}/data/{name[:2]}/{name}"
        req = AWSRequest(
            method="PUT",
            url=f"{s3_server.url}{path}",
            headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD", "Content-Length": str(SIZE)},
        )
        SigV4Auth(Credentials(S3_KEY, S3_SECRET), "s3", "us-east-1").add_auth(req)
        headers = "".join(f"{k}: {v}\r\n" for k, v in req.headers.items())
        return f"PUT {path} HTTP/1.1\r\nHost: {host}\r\n{headers}Connection: close\r\n\r\n".encode()

    backend = S3Backend(
        "coffer", prefix, endpoint_url=s3_server.url, access_key=S3_KEY, secret_key=S3_SECRET
    )
    with backend:
        _check(backend, s3_server, request)
