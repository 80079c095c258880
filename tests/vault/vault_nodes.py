"""Vault nodes as real processes (``python -m coffer.cli.vault_cmd serve``) on free ports."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Node:
    """One vault node process; ``url`` once :meth:`wait_ready` returned."""

    def __init__(
        self,
        database: str,
        key_file: Path,
        *,
        schema: str = "coffer_vault",
        name: str = "node",
        env: dict[str, str] | None = None,
        log: Path | None = None,
        extra: list[str] | None = None,
        scheme: str = "http",
        verify: str | bool = True,
    ) -> None:
        self.port = free_port()
        self.metrics_port = free_port()
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.verify = (
            ssl.create_default_context(cafile=verify) if isinstance(verify, str) else verify
        )
        cmd = [
            sys.executable,
            "-m",
            "coffer.cli.vault_cmd",
            "serve",
            "--db",
            database,
            "--pg-schema",
            schema,
            "--key-file",
            str(key_file),
            "--port",
            str(self.port),
            "--metrics-port",
            str(self.metrics_port),
            "--node",
            name,
            "--log-level",
            "warning",
            *(extra or []),
        ]
        self._log = open(log or os.devnull, "wb")
        self.proc = subprocess.Popen(
            cmd, env={**os.environ, **(env or {})}, stdout=self._log, stderr=self._log
        )

    def wait_ready(self, timeout: float = 30.0) -> Node:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"vault node exited with {self.proc.returncode}")
            try:
                r = httpx.get(self.url + "/v1/health", timeout=1.0, verify=self.verify)
                if r.status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("vault node did not become ready")

    def metrics(self) -> str:
        return httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()
