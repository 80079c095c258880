"""H2PipeTransport against an in-process HTTP/2 server (h2, server side) over real pipes.

The peer answers by path: ``/echo`` (200, body = SHA-256 of what it received), ``/big/N``
(N bytes, sent within flow control), ``/early`` (403 before reading the body), ``/reset``
(RST_STREAM INTERNAL_ERROR), ``/goaway`` (GOAWAY), ``/wait`` (held until three are open),
``/exit`` (the peer stops and closes its output).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import h2.config
import h2.connection
import h2.events
import pytest

from coffer.backends.base import TransientError
from coffer.backends.h2pipe import H2PipeTransport, LinkDown
from coffer.backends.restproto import Request


class Peer(threading.Thread):
    def __init__(self, rfd: int, wfd: int) -> None:
        super().__init__(daemon=True)
        self.rfd, self.wfd = rfd, wfd
        config = h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config=config)
        self.paths: dict[int, str] = {}
        self.bodies: dict[int, bytearray] = {}
        self.pending: dict[int, memoryview] = {}
        self.waiting: list[int] = []
        self.early_body_bytes = 0
        self.exited = False

    def flush(self) -> None:
        data = self.conn.data_to_send()
        while data:
            data = data[os.write(self.wfd, data) :]

    def run(self) -> None:
        self.conn.initiate_connection()
        self.flush()
        try:
            while not self.exited and (chunk := os.read(self.rfd, 65536)):
                for event in self.conn.receive_data(chunk):
                    self.handle(event)
                self.push_pending()
                self.flush()
        except OSError:
            pass
        finally:
            os.close(self.wfd)
            if self.exited:  # drain until the client closes, so its writes never block
                while os.read(self.rfd, 65536):
                    pass

    def handle(self, event: Any) -> None:
        sid = getattr(event, "stream_id", 0)
        if isinstance(event, h2.events.RequestReceived):
            self.paths[sid] = dict(event.headers)[":path"]
            self.bodies[sid] = bytearray()
            self.on_headers(sid, self.paths[sid])
        elif isinstance(event, h2.events.DataReceived):
            self.conn.acknowledge_received_data(event.flow_controlled_length, sid)
            if self.paths.get(sid) == "/early":
                self.early_body_bytes += len(event.data)
            else:
                self.bodies[sid] += event.data
        elif isinstance(event, h2.events.StreamEnded):
            self.on_end(sid, self.paths[sid])

    def respond(self, sid: int, status: int, body: bytes = b"") -> None:
        self.conn.send_headers(sid, [(":status", str(status))], end_stream=not body)
        if body:
            self.pending[sid] = memoryview(body)

    def push_pending(self) -> None:
        for sid, view in list(self.pending.items()):
            room = min(self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size)
            while view and room > 0:
                piece, view = view[:room], view[room:]
                self.conn.send_data(sid, piece.tobytes(), end_stream=not view)
                room = min(
                    self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size
                )
            if view:
                self.pending[sid] = view
            else:
                del self.pending[sid]

    def on_headers(self, sid: int, path: str) -> None:
        if path == "/early":
            self.respond(sid, 403)
        elif path == "/reset":
            self.conn.reset_stream(sid, 2)
        elif path == "/goaway":
            self.conn.close_connection()
        elif path == "/exit":
            self.exited = True
        elif path == "/wait":
            self.waiting.append(sid)
            if len(self.waiting) == 3:
                for w in self.waiting:
                    self.respond(w, 200, b"together")

    def on_end(self, sid: int, path: str) -> None:
        if path == "/echo":
            self.respond(sid, 200, hashlib.sha256(self.bodies[sid]).digest())
        elif path.startswith("/big/"):
            self.respond(sid, 200, bytes(range(256)) * (int(path[5:]) // 256))


class Pipes:
    """A client transport and a peer over two real pipes; ``stop`` closes everything in order."""

    def __init__(self) -> None:
        self.c2s_r, self.c2s_w = os.pipe()
        self.s2c_r, self.s2c_w = os.pipe()
        self.peer = Peer(self.c2s_r, self.s2c_w)
        self.peer.start()
        self.client = H2PipeTransport(self.s2c_r, self.c2s_w)

    def stop(self) -> None:
        self.client.close()
        os.close(self.c2s_w)  # the peer sees EOF, exits and closes its output
        self.peer.join(10)
        assert self.client.join(10), "transport threads did not end"
        os.close(self.s2c_r)
        os.close(self.c2s_r)


@pytest.fixture
def pair() -> Iterator[tuple[H2PipeTransport, Peer]]:
    pipes = Pipes()
    pipes.client.handshake(10)
    try:
        yield pipes.client, pipes.peer
    finally:
        pipes.stop()


def test_upload_larger_than_the_peers_window(pair: tuple[H2PipeTransport, Peer]) -> None:
    client, _ = pair
    body = os.urandom(3 * 1024 * 1024)  # the peer's default window is 64 KiB
    resp = client.send(Request("POST", "/echo", {}, body))
    assert resp.status == 200 and resp.body == hashlib.sha256(body).digest()


def test_download_larger_than_our_window(pair: tuple[H2PipeTransport, Peer]) -> None:
    client, _ = pair
    n = 20 * 1024 * 1024  # beyond our 16 MiB window: needs our WINDOW_UPDATEs
    resp = client.send(Request("GET", f"/big/{n}"))
    assert resp.status == 200 and len(resp.body) == n
    assert resp.body[:256] == bytes(range(256))


def test_streams_are_concurrent(pair: tuple[H2PipeTransport, Peer]) -> None:
    client, _ = pair
    with ThreadPoolExecutor(3) as pool:
        replies = list(pool.map(lambda _: client.send(Request("GET", "/wait")), range(3)))
    assert [r.body for r in replies] == [b"together"] * 3


def test_early_answer_stops_the_upload(pair: tuple[H2PipeTransport, Peer]) -> None:
    client, peer = pair
    body = os.urandom(8 * 1024 * 1024)
    resp = client.send(Request("POST", "/early", {}, body))
    assert resp.status == 403
    assert peer.early_body_bytes < len(body)
    again = client.send(Request("POST", "/echo", {}, b"still usable"))
    assert again.body == hashlib.sha256(b"still usable").digest()


def test_reset_stream_is_transient_and_the_link_survives(
    pair: tuple[H2PipeTransport, Peer],
) -> None:
    client, _ = pair
    with pytest.raises(TransientError, match="reset the stream"):
        client.send(Request("GET", "/reset"))
    assert client.alive
    assert client.send(Request("POST", "/echo", {}, b"x")).status == 200


def test_goaway_kills_the_link(pair: tuple[H2PipeTransport, Peer]) -> None:
    client, _ = pair
    with pytest.raises(LinkDown, match="GOAWAY"):
        client.send(Request("GET", "/goaway"))
    assert not client.alive
    with pytest.raises(LinkDown):
        client.send(Request("POST", "/echo", {}, b"x"))


def test_peer_exit_fails_waiting_requests(pair: tuple[H2PipeTransport, Peer]) -> None:
    client, _ = pair
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(client.send, Request("GET", "/wait"))
        with pytest.raises(LinkDown, match="closed its output"):
            client.send(Request("GET", "/exit"))
        with pytest.raises(LinkDown, match="closed its output"):
            waiting.result(timeout=10)
    assert not client.alive


def test_handshake_timeout_when_the_peer_is_silent() -> None:
    r1, w1 = os.pipe()
    r2, w2 = os.pipe()
    client = H2PipeTransport(r1, w2)
    with pytest.raises(LinkDown, match="no HTTP/2 settings"):
        client.handshake(0.2)
    client.close()
    os.close(w1)  # EOF for the reader thread
    assert client.join(10)
    for fd in (r1, r2, w2):
        os.close(fd)
