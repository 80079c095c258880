"""The lean POST path (:mod:`coffer.vault.leanpost`) against a real node: the same answer as
uvicorn's ASGI cycle, byte for byte but the date, and the same connection semantics —
pipelining, ``Connection: close``, HTTP/1.0, the per-connection request cap."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from coffer.vault.seal import KeyFileSealer
from coffer.vault.server import init_vault
from coffer.vault.store_sqlite import SqliteStore

from .vault_helpers import OPEN_SETTINGS
from .vault_nodes import Node

pytestmark = pytest.mark.integration

BAD_KE1 = json.dumps({"account": "alice", "ke1": "AAAA"}).encode()


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Node:
    tmp = tmp_path_factory.mktemp("lean")
    db, key = tmp / "vault.db", tmp / "seal.key"
    store = SqliteStore(db)
    init_vault(store, KeyFileSealer.create(key), settings=OPEN_SETTINGS)
    store.close()
    n = Node(str(db), key, log=tmp / "node.log").wait_ready()
    yield n
    n.stop()


def _post(
    body: bytes, *, path: str = "/v1/recover/start", version: str = "1.1", head: str = ""
) -> bytes:
    return (
        f"POST {path} HTTP/{version}\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{head}\r\n"
    ).encode() + body


def _chunked(body: bytes, media: bytes = b"application/json") -> bytes:
    """The same request with a chunked body: never lean, so uvicorn's ASGI cycle answers it."""
    return (
        b"POST /v1/recover/start HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (media, len(body), body)
    )


class Conn:
    """One client socket and a response reader that keeps what belongs to the next response."""

    def __init__(self, node: Node) -> None:
        self.sock = socket.create_connection(("127.0.0.1", node.port), timeout=10)
        self.buf = b""

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        self.buf += data
        return bool(data)

    def response(self) -> tuple[str, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self.buf:
            assert self._fill(), "connection closed before a response"
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, value = line.split(":", 1)
            assert name.lower() not in headers, f"header {name} twice"
            headers[name.lower()] = value.strip()
        size = int(headers["content-length"])
        while len(self.buf) < size:
            assert self._fill(), "connection closed inside a body"
        body, self.buf = self.buf[:size], self.buf[size:]
        return lines[0], headers, body

    def closed_by_peer(self) -> bool:
        self.sock.settimeout(5)
        try:
            return self.sock.recv(1) == b""
        except OSError:
            return True

    def close(self) -> None:
        self.sock.close()


def _without_date(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k != "date"}


def test_a_lean_answer_is_the_asgi_answer(node: Node) -> None:
    c = Conn(node)
    try:
        c.sock.sendall(_post(BAD_KE1))
        lean = c.response()
        c.sock.sendall(_chunked(BAD_KE1))
        asgi = c.response()
    finally:
        c.close()
    assert lean[0] == asgi[0] == "HTTP/1.1 400 Bad Request"
    assert _without_date(lean[1]) == _without_date(asgi[1])
    assert lean[1]["x-coffer-error"] == "bad_request" and "date" in lean[1]
    assert lean[2] == asgi[2]
    assert json.loads(lean[2])["error"] == "bad_request"


@pytest.mark.parametrize(
    ("media", "status"),
    [
        ("application/json; charset=utf-8", "400"),
        ("Application/JSON", "400"),
        ("text/plain", "415"),
        ("application/jsonx", "415"),
    ],
)
def test_media_types_get_the_asgi_answer(node: Node, media: str, status: str) -> None:
    c = Conn(node)
    try:
        c.sock.sendall(_post(BAD_KE1, head="").replace(b"application/json", media.encode(), 1))
        lean = c.response()
        c.sock.sendall(_chunked(BAD_KE1, media.encode()))
        asgi = c.response()
    finally:
        c.close()
    assert lean[0].split(" ")[1] == asgi[0].split(" ")[1] == status
    assert (_without_date(lean[1]), lean[2]) == (_without_date(asgi[1]), asgi[2])


def test_pipelined_requests_are_answered_in_order(node: Node) -> None:
    """A lean request, an ASGI one (chunked), an unknown path and a lean one, in one write."""
    unknown = json.dumps({"x": 1}).encode()
    c = Conn(node)
    try:
        c.sock.sendall(
            _post(BAD_KE1)
            + _chunked(BAD_KE1)
            + _post(unknown, path="/v1/nowhere")
            + _post(
                json.dumps({"attempt_id": "AA", "ke3": "AA"}).encode(), path="/v1/recover/finish"
            )
        )
        answers = [c.response() for _ in range(4)]
    finally:
        c.close()
    assert [a[0].split(" ")[1] for a in answers] == ["400", "400", "404", "400"]
    assert "field 'ke1'" in json.loads(answers[0][2])["message"]
    assert answers[0][2] == answers[1][2]
    assert "attempt_id" in json.loads(answers[3][2])["message"]


@pytest.mark.parametrize(
    ("version", "head"), [("1.1", "Connection: close\r\n"), ("1.0", "")], ids=["close", "http10"]
)
def test_a_lean_answer_closes_when_the_request_asks(node: Node, version: str, head: str) -> None:
    c = Conn(node)
    try:
        c.sock.sendall(_post(BAD_KE1, version=version, head=head))
        status, headers, _ = c.response()
        assert status.endswith("400 Bad Request")
        assert headers["connection"] == "close"
        assert c.closed_by_peer()
    finally:
        c.close()


def test_the_request_cap_per_connection_holds_on_the_lean_path(node: Node) -> None:
    """The 1000th request (``max_requests_per_connection``) is answered with ``connection:
    close`` and the connection ends; the ones before keep it open."""
    c = Conn(node)
    try:
        for i in range(1000):
            c.sock.sendall(_post(BAD_KE1))
            _, headers, _ = c.response()
            if i < 999:
                assert "connection" not in headers, i
        assert headers["connection"] == "close"
        assert c.closed_by_peer()
    finally:
        c.close()


def test_a_body_over_the_cap_is_refused_as_before(node: Node) -> None:
    c = Conn(node)
    try:
        c.sock.sendall(_post(b"{" + b" " * 5000 + b"}"))
        status, headers, body = c.response()
    finally:
        c.close()
    assert status.endswith("413 Request Entity Too Large") or " 413 " in status
    assert json.loads(body)["error"] == headers["x-coffer-error"]


def test_a_client_gone_before_its_answer_does_not_disturb_the_node(
    node: Node, tmp_path: Path
) -> None:
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", node.port), timeout=10)
        s.sendall(_post(BAD_KE1))
        s.close()
    c = Conn(node)
    try:
        c.sock.sendall(_post(BAD_KE1))
        assert c.response()[0].endswith("400 Bad Request")
    finally:
        c.close()
    assert node.proc.poll() is None
