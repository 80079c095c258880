"""What a vault login cannot cost less than on this machine: the floors under node CPU per login.

A complete login makes the node do, at the very least:

- **group operations** (RFC 9807 server side, ristretto255 through libsodium): the OPRF
  evaluation (one variable-base multiplication), the three Diffie-Hellman terms of 3DH (three
  more) and the ephemeral key (one fixed-base multiplication);
- **two HTTP requests** (KE1 → KE2, KE3 → V), each parsed and answered;
- **two database round trips** (spend, finish: the fast path of a login whose client holds its
  login state — ``client_state``, what the load generator and ``VaultClient`` do; a login with
  the state stored in the database takes four: read + spend, read + finish; see
  :mod:`coffer.vault.fastpath`), each a prepared statement through libpq.

Each floor is measured here with nothing else in the loop: the libsodium calls alone; a
minimal HTTP/1.1 server (uvloop + httptools, one ``json.loads`` and one ``json.dumps`` per
request, no routing, no limits, no metrics) answering keep-alive POSTs from one client thread;
a prepared ``SELECT 1`` on one connection. Their sum is the node CPU per login of a node that
did nothing but the unavoidable — no OPAQUE key schedule, no sealing, no JSON fields, no rate
limits, no audit — so the real figure can be read against it. Not a test; ``vault_bench.py``
prints it.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
import socket
import time
from typing import Any

import pysodium

SERVER_VAR_MULTS = 4  # OPRF BlindEvaluate + the three 3DH terms
SERVER_BASE_MULTS = 1  # the server's ephemeral key share
HTTP_REQUESTS = 2
DB_ROUND_TRIPS = 2  # a client-held login (four with the state stored)


def _cpu_per_call(fn: Any, n: int) -> float:
    for _ in range(max(10, n // 10)):
        fn()
    t0 = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - t0) / n


def group_ops_us(n: int = 2000) -> dict[str, float]:
    scalar = pysodium.crypto_core_ristretto255_scalar_random()
    point = pysodium.crypto_scalarmult_ristretto255_base(scalar)
    var = _cpu_per_call(lambda: pysodium.crypto_scalarmult_ristretto255(scalar, point), n)
    base = _cpu_per_call(lambda: pysodium.crypto_scalarmult_ristretto255_base(scalar), n)
    return {"var_base_mult_us": var * 1e6, "fixed_base_mult_us": base * 1e6}


def _http_server(port_out: Any) -> None:
    import httptools
    import uvloop

    class Proto(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            self.transport = transport
            self.parser = httptools.HttpRequestParser(self)
            self.body: list[bytes] = []

        def data_received(self, data: bytes) -> None:
            self.parser.feed_data(data)

        def on_body(self, body: bytes) -> None:
            self.body.append(body)

        def on_message_complete(self) -> None:
            request = json.loads(b"".join(self.body))
            self.body = []
            payload = json.dumps({"echo": len(request)}).encode()
            self.transport.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                b"content-length: %d\r\n\r\n%s" % (len(payload), payload)
            )

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(Proto, "127.0.0.1", 0)
        port_out.put(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    uvloop.run(main())


def _proc_cpu_s(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def http_request_us(seconds: float = 3.0) -> float:
    """Server CPU per keep-alive JSON POST of the minimal server (client in this process)."""
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    proc = ctx.Process(target=_http_server, args=(q,), daemon=True)
    proc.start()
    try:
        port = q.get(timeout=30)
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        body = json.dumps({"account": "bench0", "ke1": "A" * 128}).encode()
        request = (
            b"POST /v1/recover/start HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )

        def one() -> None:
            sock.sendall(request)
            data = b""
            while not data.endswith(b"}"):
                data += sock.recv(65536)

        for _ in range(200):
            one()
        cpu0, n, stop = _proc_cpu_s(proc.pid), 0, time.monotonic() + seconds
        while time.monotonic() < stop:
            one()
            n += 1
        used = _proc_cpu_s(proc.pid) - cpu0
        sock.close()
        return 1e6 * used / n
    finally:
        proc.terminate()
        proc.join()


def db_round_trip_us(dsn: str, n: int = 3000) -> float:
    """Node CPU of one prepared ``SELECT 1`` through the fast path's libpq connection."""
    from coffer.vault.pg_async import FastConn

    async def run() -> float:
        conn = await FastConn.open(dsn, "public")
        try:
            for _ in range(200):
                await conn.row("SELECT 1", ())
            t0 = time.process_time()
            for _ in range(n):
                await conn.row("SELECT 1", ())
            return 1e6 * (time.process_time() - t0) / n
        finally:
            await conn.aclose()

    return asyncio.run(run())


def floors(dsn: str | None) -> dict[str, float]:
    """Each floor and their sum, the least node CPU per complete login (ms)."""
    out: dict[str, float] = dict(group_ops_us())
    out["http_request_us"] = http_request_us()
    if dsn is not None:
        out["db_round_trip_us"] = db_round_trip_us(dsn)
    out["node_floor_ms_per_login"] = (
        SERVER_VAR_MULTS * out["var_base_mult_us"]
        + SERVER_BASE_MULTS * out["fixed_base_mult_us"]
        + HTTP_REQUESTS * out["http_request_us"]
        + DB_ROUND_TRIPS * out.get("db_round_trip_us", 0.0)
    ) / 1000
    return out


if __name__ == "__main__":
    print(json.dumps(floors("host=127.0.0.1 port=5432 user=postgres dbname=test"), indent=2))
