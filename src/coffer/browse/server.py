"""Running the browser: a socket on 127.0.0.1, uvicorn in the foreground, the URL printed.

Rules: the socket is bound before the URL is printed (the port is known and nothing else can
take it); only 127.0.0.1 — the address is not configurable. The Host allow-list is the bound
port on 127.0.0.1 and localhost. uvicorn handles Ctrl-C and SIGTERM by stopping the server;
:func:`serve` returns and the caller's ``finally`` removes the workspace.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass

import uvicorn

from coffer.browse.app import make_app
from coffer.browse.catalog import Catalog
from coffer.browse.security import new_token

HOST = "127.0.0.1"


@dataclass
class Session:
    catalog: Catalog
    token: str
    sock: socket.socket
    hosts: set[str]

    @property
    def port(self) -> int:
        port: int = self.sock.getsockname()[1]
        return port

    def url(self, path: str = "") -> str:
        return f"http://{HOST}:{self.port}/{self.token}/{path}"


def bind(catalog: Catalog, port: int = 0) -> Session:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))
    sock.listen(64)
    session = Session(catalog, new_token(), sock, set())
    session.hosts.update({f"{HOST}:{session.port}", f"localhost:{session.port}"})
    return session


def serve(session: Session, on_ready: Callable[[], None] | None = None) -> None:
    """Serve until Ctrl-C / SIGTERM (or ``server.should_exit``); blocks."""
    app = make_app(session.catalog, session.token, session.hosts)
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False,
                            timeout_graceful_shutdown=2)  # fmt: skip
    server = uvicorn.Server(config)
    if on_ready is not None:
        threading.Thread(target=_when_started, args=(server, on_ready), daemon=True).start()
    server.run(sockets=[session.sock])


def _when_started(server: uvicorn.Server, on_ready: Callable[[], None]) -> None:
    import time

    while not server.started and not server.should_exit:
        time.sleep(0.02)
    if server.started:
        on_ready()
