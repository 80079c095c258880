"""How a vault node stands up to hostile clients: the before/after figures of issue 13, B5–B8.

Runs real node processes (``python -m coffer.cli.vault_cmd serve``) on 127.0.0.1 with SQLite and
measures, each bounded in count and time:

- ``spoofed_xff``: 60 GET /v1/info with a different fake ``X-Forwarded-For`` each, against a
  node that allows one address a burst of 5 — how many got through (a node that trusts the
  header lets all 60 through).
- ``slow_connections``: N connections that send half a request line and stall, then one normal
  request — its status and how long it took (or that it failed).
- ``deep_json`` / ``text_plain``: the status of a deeply nested JSON body under the size cap, and
  of a login start sent as ``text/plain`` (what a web page can make a browser send).
- ``max_attempts``: ``vault init --max-attempts 5``, then ``serve`` without the flag: what
  ``/v1/info`` reports.

Not a test; run: ``.venv/bin/python bench/vault_exposure.py`` (works on older checkouts too: it
only uses flags both know, and reports a flag the node lacks as such).
"""

from __future__ import annotations

import base64
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

PY = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def vault(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PY, "-m", "coffer.cli.vault_cmd", *args], capture_output=True, text=True, timeout=60
    )


def has_command(name: str) -> bool:
    return name in vault("--help").stdout


NEW = has_command("settings")


class Node:
    def __init__(self, db: Path, key: Path, *extra: str, nofile: int | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [PY, "-m", "coffer.cli.vault_cmd", "serve", "--db", str(db), "--key-file", str(key)]
        cmd += ["--port", str(self.port), "--log-level", "error", *extra]
        ready = "/v1/info"
        if NEW:  # a node with stored settings: no metrics port clash, readiness without a token
            cmd += ["--metrics-port", "0"]
            ready = "/v1/health"

        def limit() -> None:  # e.g. systemd's default soft limit of 1024 open files
            if nofile:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=limit
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + ready, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("node did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def init(tmp: Path, name: str, *extra: str) -> tuple[Path, Path]:
    db, key = tmp / f"{name}.db", tmp / f"{name}.key"
    out = vault("init", "--db", str(db), "--key-file", str(key), *extra)
    if out.returncode != 0:
        raise RuntimeError(out.stdout + out.stderr)
    return db, key


def limited_node(tmp: Path) -> tuple[Node, Path, Path]:
    """A node that allows one client address a burst of 5 requests (rate 0.01/s)."""
    db, key = init(tmp, "xff")
    if has_command("settings"):
        vault(
            "settings",
            "set",
            "--db",
            str(db),
            "--rate-per-address",
            "0.01",
            "--burst-per-address",
            "5",
        )
        return Node(db, key), db, key
    return Node(db, key, "--rate-per-address", "0.01", "--burst", "5"), db, key


def spoofed_xff(tmp: Path) -> dict[str, Any]:
    node, _, _ = limited_node(tmp)
    try:
        codes = [
            httpx.get(
                node.url + "/v1/info", headers={"x-forwarded-for": f"203.0.113.{i}"}
            ).status_code
            for i in range(60)
        ]
    finally:
        node.stop()
    return {"requests": 60, "passed": codes.count(200), "refused_429": codes.count(429)}


def slow_connections(tmp: Path, n: int, nofile: int | None = None) -> dict[str, Any]:
    """``n`` stalled connections from 127.0.0.2…, then one request from 127.0.0.1."""
    db, key = init(tmp, f"slow{n}")
    node = Node(db, key, nofile=nofile)
    socks: list[socket.socket] = []
    try:
        opened = 0
        for _ in range(n):
            source = (f"127.0.0.{2 + opened % 200}", 0)
            try:
                s = socket.create_connection(("127.0.0.1", node.port), 5, source)
                s.sendall(b"POST /v1/recover/start HTTP/1.1\r\nHost: x\r\nContent-Le")
            except OSError:
                break
            socks.append(s)
            opened += 1
        time.sleep(0.5)
        t0 = time.monotonic()
        try:
            r = httpx.get(node.url + "/v1/info", timeout=10)
            outcome: Any = r.status_code
        except httpx.HTTPError as exc:
            outcome = type(exc).__name__
        took = time.monotonic() - t0
        # after the node's read timeout, how many of the slow connections did it drop?
        time.sleep(12)
        dropped = 0
        for s in socks:
            s.settimeout(0.05)
            try:
                if s.recv(1) == b"":
                    dropped += 1
            except TimeoutError:
                pass
            except OSError:
                dropped += 1
    finally:
        for s in socks:
            s.close()
        node.stop()
    return {
        "slow_connections": opened,
        "normal_request": outcome,
        "normal_request_s": round(took, 3),
        "dropped_by_node_after_12s": dropped,
    }


def odd_bodies(tmp: Path) -> dict[str, Any]:
    db, key = init(tmp, "odd")
    node = Node(db, key)
    try:
        deep = b'{"account": "a", "ke1": ' + b"[" * 1500 + b"]" * 1500 + b"}"
        r1 = httpx.post(
            node.url + "/v1/recover/start",
            content=deep,
            headers={"content-type": "application/json"},
        )
        from coffer.opaque import client_login_start

        _, ke1 = client_login_start(b"a password")
        body = json.dumps({"account": "alice", "ke1": base64.urlsafe_b64encode(ke1).decode()})
        r2 = httpx.post(
            node.url + "/v1/recover/start", content=body, headers={"content-type": "text/plain"}
        )
    finally:
        node.stop()
    return {
        "deep_json_bytes": len(deep),
        "deep_json_status": r1.status_code,
        "deep_json_content_type": r1.headers.get("content-type"),
        "text_plain_status": r2.status_code,
    }


def max_attempts(tmp: Path) -> dict[str, Any]:
    db, key = init(tmp, "ma", "--max-attempts", "5")
    nodes = [Node(db, key), Node(db, key)]
    try:
        served = [httpx.get(n.url + "/v1/info").json()["max_attempts"] for n in nodes]
    finally:
        for n in nodes:
            n.stop()
    return {"init_max_attempts": 5, "served_by_nodes_started_without_flag": served}


def main() -> None:
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        report["B5_spoofed_xff"] = spoofed_xff(tmp)
        report["B6_slow_70"] = slow_connections(tmp, 70)
        report["B6_slow_200"] = slow_connections(tmp, 200)
        report["B6_slow_1100_nofile_1024"] = slow_connections(tmp, 1100, nofile=1024)
        report["B7_odd_bodies"] = odd_bodies(tmp)
        report["B8_max_attempts"] = max_attempts(tmp)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
