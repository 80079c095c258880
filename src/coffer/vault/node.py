"""Running a vault node: the listening socket, TLS, workers, metrics, and uvicorn under them.

Rules:

- Plain HTTP is allowed on loopback addresses only. Binding any other address needs TLS
  (``tls_cert`` + ``tls_key``) or an explicit ``insecure_http`` (behind a TLS-terminating proxy
  on the same host or network), which is announced on stderr at every start.
- uvicorn's own proxy-header handling is off (``proxy_headers=False``): the client address is
  decided by :mod:`coffer.vault.clientaddr` from the configured trusted proxies only.
- ``workers`` > 1: the parent unseals the setup once, opens the socket, then forks the workers,
  which share the socket (the kernel spreads connections) and open their own database
  connections; the parent restarts none of them but stops all of them on SIGTERM/SIGINT and
  exits when any dies. Each worker has its own connection guard (caps are per worker).
- Metrics are served by the parent on ``metrics_host:metrics_port`` (default 127.0.0.1:9420),
  never on the API port; with workers, prometheus-client's multiprocess mode adds up their
  figures.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn

from coffer.vault.errors import VaultConfigError
from coffer.vault.leanpost import LeanPostProtocol
from coffer.vault.netguard import GuardLimits, protocol_class

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


@dataclass(frozen=True)
class NodeOptions:
    host: str = "127.0.0.1"
    port: int = 8420
    tls_cert: Path | None = None
    tls_key: Path | None = None
    insecure_http: bool = False
    workers: int = 1
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9420
    guard: GuardLimits = field(default_factory=GuardLimits)

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_transport(opts: NodeOptions, warn: Callable[[str], None]) -> None:
    """Refuse plain HTTP on a non-loopback address unless ``insecure_http`` says so."""
    if (opts.tls_cert is None) != (opts.tls_key is None):
        raise VaultConfigError("--tls-cert and --tls-key go together")
    for path in (opts.tls_cert, opts.tls_key):
        if path is not None and not Path(path).is_file():
            raise VaultConfigError(f"TLS file {path} does not exist")
    if opts.tls or is_loopback(opts.host):
        return
    if not opts.insecure_http:
        raise VaultConfigError(
            f"refusing plain HTTP on {opts.host}: give --tls-cert/--tls-key, or --insecure-http "
            "if a TLS-terminating proxy in front of this node is the only thing that reaches it"
        )
    warn(
        f"WARNING: serving PLAIN HTTP on non-loopback address {opts.host} (--insecure-http). "
        "Anyone on the path sees account names and can spend guesses; only a TLS proxy "
        "in front of this node should reach it."
    )


def bind(opts: NodeOptions) -> socket.socket:
    family = socket.AF_INET6 if ":" in opts.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((opts.host, opts.port))
    except OSError as exc:
        sock.close()
        raise VaultConfigError(f"cannot listen on {opts.host}:{opts.port}: {exc}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def uvicorn_config(app: object, opts: NodeOptions) -> uvicorn.Config:
    return uvicorn.Config(
        app,  # type: ignore[arg-type]
        http=protocol_class(opts.guard, LeanPostProtocol),
        lifespan="on",
        log_level="warning",
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_keep_alive=int(opts.guard.keepalive_timeout),
        ssl_certfile=str(opts.tls_cert) if opts.tls_cert else None,
        ssl_keyfile=str(opts.tls_key) if opts.tls_key else None,
    )


def run(make_app: Callable[[], object], opts: NodeOptions, before_fork: Callable[[], None]) -> None:
    """Serve until stopped. ``make_app`` builds the ASGI app (in each worker);
    ``before_fork`` closes whatever must not be shared across a fork (database connections)."""
    sock = bind(opts)
    if opts.workers <= 1:
        _serve_metrics(opts)
        uvicorn.Server(uvicorn_config(make_app(), opts)).run(sockets=[sock])
        return
    if MULTIPROC_ENV not in os.environ:
        raise VaultConfigError(f"{MULTIPROC_ENV} must be set before prometheus_client is imported")
    before_fork()
    children = [_fork_worker(make_app, opts, sock) for _ in range(opts.workers)]
    _serve_metrics(opts)
    _supervise(children)


def _serve_metrics(opts: NodeOptions) -> None:
    from coffer.vault.metrics import serve_metrics

    try:
        serve_metrics(opts.metrics_host, opts.metrics_port)
    except OSError as exc:
        raise VaultConfigError(
            f"cannot serve metrics on {opts.metrics_host}:{opts.metrics_port}: {exc}"
        ) from None


def _fork_worker(make_app: Callable[[], object], opts: NodeOptions, sock: socket.socket) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 0
    try:
        uvicorn.Server(uvicorn_config(make_app(), opts)).run(sockets=[sock])
    except BaseException:
        code = 1
    finally:
        sys.stderr.flush()
        os._exit(code)


def _supervise(children: list[int]) -> None:
    def stop(signum: int, _frame: object) -> None:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    alive = set(children)
    first = True
    while alive:
        try:
            pid, _status = os.wait()
        except ChildProcessError:
            break
        alive.discard(pid)
        if first and alive:  # one worker died: stop the others too, so the unit restarts us
            first = False
            stop(signal.SIGTERM, None)
