"""Real servers for backend tests: ``rclone serve s3`` / ``rclone serve restic`` on 127.0.0.1."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from coffer.backends.base import BackendConfigError
from coffer.backends.binary import rclone_binary

S3_KEY = "coffer-test-key"
S3_SECRET = "coffer-test-SECRET-value"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rclone_or_skip() -> str:
    try:
        return rclone_binary()
    except BackendConfigError as exc:
        pytest.skip(f"rclone binary not available: {exc}")


@dataclass
class Server:
    url: str
    root: Path
    process: subprocess.Popen[bytes]
    log: Path


def _wait_listening(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server did not start listening: {log.read_text()[-2000:]}")


@contextmanager
def rclone_server(args: Sequence[str], root: Path, scheme: str = "http") -> Iterator[Server]:
    """Run ``rclone serve <args> --addr 127.0.0.1:PORT`` until the block ends."""
    binary = rclone_or_skip()
    port = free_port()
    log = root.parent / f"{root.name}.log"
    root.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [binary, "serve", *args, "--addr", f"127.0.0.1:{port}", str(root)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        _wait_listening(proc, port, log)
        yield Server(f"{scheme}://127.0.0.1:{port}", root, proc, log)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
