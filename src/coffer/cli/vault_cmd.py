"""``coffer vault``: create a key vault (``init``) and run a vault node (``serve``).

Rules: ``init`` creates the database, the sealed server secrets and the stored security settings
(its settings flags are those of ``vault settings set``) and prints the public key and
fingerprint that clients pin. ``serve`` takes only node-local options — address, TLS, proxies,
workers, connection limits, metrics — and runs on the settings stored in the database; it
refuses to start when the seal key does not open the stored setup, and refuses plain HTTP on a
non-loopback address without ``--insecure-http``. The operator commands (``settings``,
``accounts``, ``rotate-seal``, ``housekeeping``) are in :mod:`coffer.cli.vault_admin_cmd`.

Usable on its own (``python -m coffer.cli.vault_cmd serve …``) and registered in the main CLI as
``from coffer.cli.vault_cmd import vault``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

from coffer.cli.vault_admin_cmd import register_admin_commands
from coffer.cli.vault_options import (
    fail,
    make_sealer,
    seal_options,
    settings_from_flags,
    settings_options,
    store_options,
)
from coffer.errors import CofferError
from coffer.vault import wire
from coffer.vault._crypto import fingerprint
from coffer.vault.errors import VaultConfigError
from coffer.vault.settings import VaultSettings


@click.group("vault")
def vault() -> None:
    """Run the guess-limited key vault (OPAQUE, RFC 9807)."""


@vault.command("init")
@store_options
@seal_options
@settings_options
def init_cmd(database: str, pg_schema: str, **opts: Any) -> None:
    """Create the vault database, its sealed server secrets and its stored settings."""
    from coffer.vault.server import init_vault, open_store

    try:
        settings = settings_from_flags(VaultSettings(), opts)
        store = open_store(database, pg_schema=pg_schema)
        sealer = make_sealer(*_seal_args(opts), create=True)
        setup = init_vault(store, sealer, settings=settings)
        store.close()
    except CofferError as exc:
        raise fail(exc) from None
    click.echo(f"vault initialised in {database}")
    click.echo(f"public key:  {wire.b64e(setup.public_key)}")
    click.echo(f"fingerprint: {fingerprint(setup.public_key)}")


def _seal_args(opts: dict[str, Any], prefix: str = "") -> tuple[Any, ...]:
    names = ("key_file", "pkcs11_lib", "pkcs11_token", "pkcs11_key", "pkcs11_pin_file")
    return tuple(opts[prefix + n] for n in names)


_MOVED = {
    "--max-attempts": "max-attempts",
    "--default-ksf": "default-ksf",
    "--rate-per-address": "rate-per-address",
    "--rate-per-account": "rate-per-account",
    "--burst": "burst-per-address / --burst-per-account",
}


def _moved_options(f: Any) -> Any:
    """Former ``serve`` flags for stored settings: a clear error instead of "no such option"."""
    for flag in _MOVED:
        f = click.option(flag, "moved_" + flag[2:].replace("-", "_"), hidden=True)(f)
    return click.option("--trust-forwarded-for", "moved_trust_xff", is_flag=True, hidden=True)(f)


def _refuse_moved(opts: dict[str, Any]) -> None:
    if opts.pop("moved_trust_xff", False):
        raise click.UsageError("--trust-forwarded-for is gone: give --trusted-proxy CIDR instead")
    for flag, setting in _MOVED.items():
        if opts.pop("moved_" + flag[2:].replace("-", "_"), None) is not None:
            raise click.UsageError(
                f"{flag} is a security setting stored in the vault database, the same for "
                f"every node: use `coffer vault settings set --{setting} …`"
            )


@vault.command("serve")
@store_options
@seal_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8420, show_default=True)
@click.option("--node", default="", help="Name of this node in logs and the audit trail.")
@click.option(
    "--tls-cert",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="PEM certificate (chain) to serve HTTPS with.",
)
@click.option(
    "--tls-key",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="PEM private key of --tls-cert.",
)
@click.option(
    "--insecure-http",
    is_flag=True,
    help="Allow plain HTTP on a non-loopback address (only behind a TLS proxy).",
)
@click.option(
    "--trusted-proxy",
    "trusted_proxies",
    multiple=True,
    metavar="CIDR",
    help="Proxy whose X-Forwarded-For is believed (repeatable; default: none).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Processes sharing the port (about one per core).",
)
@click.option(
    "--metrics-host", default="127.0.0.1", show_default=True, help="Address of the metrics port."
)
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=9420,
    show_default=True,
    help="Prometheus metrics port (0: none).",
)
@click.option(
    "--max-connections",
    type=click.IntRange(1),
    default=2000,
    show_default=True,
    help="Open connections per worker; more get 503.",
)
@click.option(
    "--max-per-address",
    type=click.IntRange(1),
    default=64,
    show_default=True,
    help="Open connections per client address (trusted proxies exempt).",
)
@click.option(
    "--read-timeout",
    type=click.FloatRange(0.5, 300),
    default=10.0,
    show_default=True,
    help="Seconds a client has to send a whole request.",
)
@click.option(
    "--keepalive-timeout",
    type=click.FloatRange(1, 300),
    default=15.0,
    show_default=True,
    help="Seconds an idle keep-alive connection stays open.",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
)
@_moved_options
def serve_cmd(database: str, pg_schema: str, **opts: Any) -> None:
    """Serve the vault API (runs on the settings stored in the database)."""
    _refuse_moved(opts)
    from coffer._extras import require

    require("vault", "coffer vault serve")
    if opts["workers"] > 1:  # must precede the first import of prometheus_client
        _multiprocess_metrics()
    from coffer.vault.app import HttpSettings, create_app
    from coffer.vault.audit import configure_logging
    from coffer.vault.node import check_transport, run
    from coffer.vault.server import load_core, open_store

    try:
        node_opts = _node_options(opts)
        check_transport(node_opts, lambda m: click.secho(m, err=True, fg="red", bold=True))
        store = open_store(database, pg_schema=pg_schema)
        sealer = make_sealer(*_seal_args(opts), create=False)
        node = opts["node"] or f"{node_opts.host}:{node_opts.port}"
        core = load_core(store, sealer, node=node)
    except CofferError as exc:
        raise fail(exc) from None
    configure_logging(getattr(logging, opts["log_level"].upper()))
    http = HttpSettings(trusted_proxies=node_opts.guard.trusted_proxies)
    workers = f" ({node_opts.workers} workers)" if node_opts.workers > 1 else ""
    click.echo(
        f"vault {fingerprint(core.setup.public_key)} serving on {node_opts.url}{workers}", err=True
    )
    try:
        run(lambda: create_app(core, http), node_opts, before_fork=store.close)
    except CofferError as exc:
        raise fail(exc) from None


def _multiprocess_metrics() -> None:
    """Workers write their metrics to files the parent adds up (prometheus-client's rule: the
    directory must be set before the library is imported, and start empty)."""
    import os
    import tempfile

    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="coffer-vault-metrics-")


def _node_options(opts: dict[str, Any]) -> Any:
    from coffer.vault.clientaddr import parse_networks
    from coffer.vault.netguard import GuardLimits
    from coffer.vault.node import NodeOptions

    try:
        proxies = parse_networks(opts["trusted_proxies"])
    except ValueError as exc:
        raise VaultConfigError(f"--trusted-proxy: {exc}") from None
    guard = GuardLimits(
        max_connections=opts["max_connections"],
        max_per_address=opts["max_per_address"],
        read_timeout=opts["read_timeout"],
        keepalive_timeout=opts["keepalive_timeout"],
        trusted_proxies=proxies,
    )
    return NodeOptions(
        host=opts["host"],
        port=opts["port"],
        tls_cert=opts["tls_cert"],
        tls_key=opts["tls_key"],
        insecure_http=opts["insecure_http"],
        workers=opts["workers"],
        metrics_host=opts["metrics_host"],
        metrics_port=opts["metrics_port"],
        guard=guard,
    )


register_admin_commands(vault)

if __name__ == "__main__":
    vault()
