"""A REST server that answers a ranged read with far more bytes costs no more memory than the range.

The server here is real (``http.server`` on loopback) and hostile: it ignores ``Range`` and sends
64 MiB. The backend keeps at most the range's end plus one byte of the body
(``Request.max_body``), slices the range out as for any server that ignores ``Range``, and the
peak of Python allocations during the read (``tracemalloc``) stays far below the body's size.
"""

from __future__ import annotations

import threading
import tracemalloc
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from coffer.backends.base import ObjectType
from coffer.backends.rest import RestBackend

BODY_MIB = 64
PIECE = bytes(range(256)) * 4096  # 1 MiB, every byte's value is its offset mod 256


class _Flood(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)  # as if Range were not understood
        self.send_header("Content-Length", str(BODY_MIB << 20))
        self.end_headers()
        for _ in range(BODY_MIB):
            self.wfile.write(PIECE)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def flood_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Flood)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/repo/"
    finally:
        server.shutdown()
        server.server_close()


def test_a_ranged_read_keeps_only_the_range_of_a_flood(flood_url: str) -> None:
    backend = RestBackend(flood_url)
    tracemalloc.start()
    try:
        data = backend.load(ObjectType.DATA, "ab" * 32, 1000, 4096)
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert data == bytes((1000 + i) % 256 for i in range(4096))
    assert peak < 8 << 20, f"peak {peak} bytes of Python allocations for a 4 KiB range"
