"""An embedded vault: a real vault node on loopback inside the current process (demo, tests).

Rules: it is the same app, store (SQLite in ``workdir``) and sealing (0600 key file in
``workdir``) as ``coffer vault serve``, bound to 127.0.0.1 on a free port; the first start
initialises the vault, later starts reuse it (so a "new device" talks to the same vault). The
server runs in a daemon thread; :meth:`EmbeddedVault.stop` (or leaving the ``with`` block) shuts
it down and waits for it.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from types import TracebackType

import uvicorn

from coffer.vault import wire
from coffer.vault._crypto import fingerprint
from coffer.vault.app import HttpSettings, create_app
from coffer.vault.errors import VaultUnavailable
from coffer.vault.node import NodeOptions, uvicorn_config
from coffer.vault.protocol import VaultSettings
from coffer.vault.seal import KeyFileSealer
from coffer.vault.server import META_SETUP, init_vault, load_core
from coffer.vault.store_sqlite import SqliteStore


class EmbeddedVault:
    """``with EmbeddedVault(dir) as v: VaultClient(v.url, pinned_key=v.public_key)``."""

    def __init__(
        self,
        workdir: Path,
        settings: VaultSettings | None = None,
        http: HttpSettings | None = None,
        max_attempts: int | None = None,
    ) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.store = SqliteStore(self.workdir / "vault.db")
        if max_attempts is not None:
            settings = (settings or VaultSettings()).replace(max_attempts=max_attempts)
        key_file = self.workdir / "vault-seal.key"
        self.store.create_schema()
        if self.store.get_meta(META_SETUP) is None:
            init_vault(self.store, KeyFileSealer.create(key_file))
        self.core = load_core(self.store, KeyFileSealer(key_file), settings)
        self.public_key = self.core.setup.public_key
        self.fingerprint = fingerprint(self.public_key)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = int(self._sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn_config(create_app(self.core, http), NodeOptions(metrics_port=0))
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def __repr__(self) -> str:
        return f"EmbeddedVault(url={self.url!r}, fingerprint={self.fingerprint!r})"

    @property
    def public_key_b64(self) -> str:
        return wire.b64e(self.public_key)

    def start(self, timeout: float = 10.0) -> EmbeddedVault:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise VaultUnavailable("the embedded vault did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(10)
        self._sock.close()
        self.store.close()

    def __enter__(self) -> EmbeddedVault:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
