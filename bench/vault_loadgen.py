"""A lean load generator for the vault benchmark: complete OPAQUE logins over keep-alive HTTP/1.1.

Why not :class:`coffer.vault.client.VaultClient`: on a 2-core machine the load generator shares
the cores with the nodes and PostgreSQL, and httpx costs more CPU per request than the vault
node does, so it would bound the figure. This client does the same cryptographic work as
``VaultClient.recover`` — ``client_login_start``, ``client_login_finish`` with the vault key
pinned, opening the released V under the session key and then under the escrow key, and
checking it is the V registered — but speaks HTTP with one socket, a hand-built request and a
minimal response parser (status line, ``Content-Length``, ``Connection: close``).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from coffer.opaque import Argon2idKSF, Config, client_login_finish, client_login_start
from coffer.vault import _crypto, wire


class LeanHttp:
    """One keep-alive HTTP/1.1 connection that POSTs JSON (reconnects when the server closes)."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        self.addr = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.host = f"{self.addr[0]}:{self.addr[1]}".encode()
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.buf = b""

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(self.addr, timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        return sock

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        data = json.dumps(body, separators=(",", ":")).encode()
        head = (
            b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % (path.encode(), self.host, len(data))
        )
        if self.sock is None:
            self.sock = self._connect()
        self.sock.sendall(head + data)
        status, close, payload = self._response()
        if close:
            self.close()
        return status, json.loads(payload)

    def _recv(self) -> None:
        assert self.sock is not None
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buf += chunk

    def _response(self) -> tuple[int, bool, bytes]:
        while b"\r\n\r\n" not in self.buf:
            self._recv()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        headers = dict(line.lower().split(b": ", 1) for line in lines[1:])
        length = int(headers.get(b"content-length", b"0"))
        while len(self.buf) < length:
            self._recv()
        payload, self.buf = self.buf[:length], self.buf[length:]
        return status, headers.get(b"connection") == b"close", payload


@dataclass(frozen=True)
class Target:
    """What a login needs to know: the pinned key, the OPAQUE context and the registered V."""

    public_key: bytes
    context: bytes
    ksf: Argon2idKSF
    password: bytes
    secrets: dict[str, bytes]
    client_state: bool = True  # hold the sealed login state (as VaultClient does) or not


def login(http: LeanHttp, target: Target, account: str) -> None:
    """One complete login (KE1→KE2→KE3, V released and opened); raises on any failure."""
    state, ke1 = client_login_start(target.password)
    ask: dict[str, Any] = {"account": account, "ke1": wire.b64e(ke1)}
    if target.client_state:
        ask["client_state"] = True
    status, start = http.post("/v1/recover/start", ask)
    if status != 200:
        raise RuntimeError(f"recover/start: HTTP {status} {start.get('error')}")
    cfg = Config(context=target.context, ksf=target.ksf, pinned_server_public_key=target.public_key)
    ke3, session, export = client_login_finish(state, wire.b64d(start["ke2"]), cfg)
    attempt_id = start["attempt_id"]
    end = {"attempt_id": attempt_id, "ke3": wire.b64e(ke3)}
    if "login_state" in start:
        end["login_state"] = start["login_state"]
    status, done = http.post("/v1/recover/finish", end)
    if status != 200:
        raise RuntimeError(f"recover/finish: HTTP {status} {done.get('error')}")
    release = _crypto.derive(session, _crypto.LABEL_RELEASE)
    inner = _crypto.open_sealed(
        release, wire.b64d(done["sealed_secret"]), b"release" + wire.b64d(attempt_id)
    )
    escrow = _crypto.derive(export, _crypto.LABEL_ESCROW)
    ad = _crypto.LABEL_ESCROW + b"/" + account.encode()
    if _crypto.open_sealed(escrow, inner, ad) != target.secrets[account]:
        raise RuntimeError("the released V is not the registered one")


def worker(
    urls: list[str], target: Target, accounts: list[str], threads: int, duration: float, out: Any
) -> None:
    """A load-generator process: ``threads`` connections looping logins for ``duration`` s;
    puts (latencies, errors, CPU seconds of this process) on ``out``."""
    lat: list[float] = []
    errors = [0]
    lock = threading.Lock()
    cpu0 = time.process_time()
    stop = time.monotonic() + duration

    def loop(i: int) -> None:
        http = LeanHttp(urls[i % len(urls)])
        mine: list[float] = []
        account = accounts[i % len(accounts)]
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            try:
                login(http, target, account)
                mine.append(time.perf_counter() - t0)
            except Exception:
                http.close()
                with lock:
                    errors[0] += 1
        http.close()
        with lock:
            lat.extend(mine)

    ts = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    out.put((lat, errors[0], time.process_time() - cpu0))
