"""``coffer vault``: create a key vault (``init``) and run a vault node (``serve``).

Rules: the database and the seal key come from flags or the environment (``COFFER_VAULT_DB``,
``COFFER_VAULT_KEY_FILE``, ``COFFER_VAULT_PKCS11_LIB`` / ``_TOKEN`` / ``_KEY``; the PKCS#11 PIN
only from ``COFFER_VAULT_PKCS11_PIN``). Every Coffer error becomes one line on stderr and its
exit code (15 for vault errors). ``init`` prints the vault public key and fingerprint that clients
pin; ``serve`` refuses to start when the seal key does not open the stored setup.

Usable on its own (``python -m coffer.cli.vault_cmd serve …``) and registered in the main CLI as
``from coffer.cli.vault_cmd import vault``.
"""

from __future__ import annotations

import logging
from typing import Any

import click

from coffer.errors import CofferError
from coffer.opaque import KSF_MOBILE, KSF_OPAQUE_KE_DEFAULT, KSF_RFC_RECOMMENDED
from coffer.vault import wire
from coffer.vault._crypto import fingerprint
from coffer.vault.protocol import VaultSettings
from coffer.vault.ratelimit import Limit
from coffer.vault.seal import KeyFileSealer, Pkcs11Sealer, Sealer

KSF_PROFILES = {
    "mobile": KSF_MOBILE,
    "opaque-ke-default": KSF_OPAQUE_KE_DEFAULT,
    "rfc-recommended": KSF_RFC_RECOMMENDED,
}


def _fail(exc: CofferError) -> click.ClickException:
    """A ClickException that prints the error and exits with the Coffer error's code."""
    cls = type("VaultCommandError", (click.ClickException,), {"exit_code": exc.exit_code})
    error: click.ClickException = cls(str(exc))
    return error


def _store_options(f: Any) -> Any:
    options = [
        click.option(
            "--db",
            "database",
            envvar="COFFER_VAULT_DB",
            default="vault.db",
            show_default=True,
            help="SQLite file, or postgresql://… for several nodes on one database.",
        ),
        click.option(
            "--pg-schema",
            envvar="COFFER_VAULT_PG_SCHEMA",
            default="coffer_vault",
            show_default=True,
            help="PostgreSQL schema holding the vault's tables.",
        ),
        click.option(
            "--key-file",
            envvar="COFFER_VAULT_KEY_FILE",
            default="vault-seal.key",
            show_default=True,
            type=click.Path(dir_okay=False),
            help="0600 seal-key file (ignored when --pkcs11-lib is given).",
        ),
        click.option(
            "--pkcs11-lib",
            envvar="COFFER_VAULT_PKCS11_LIB",
            default=None,
            help="PKCS#11 module; seal with a key inside this HSM token.",
        ),
        click.option(
            "--pkcs11-token",
            envvar="COFFER_VAULT_PKCS11_TOKEN",
            default="coffer-vault",
            show_default=True,
            help="Token label.",
        ),
        click.option(
            "--pkcs11-key",
            envvar="COFFER_VAULT_PKCS11_KEY",
            default="coffer-vault-seal",
            show_default=True,
            help="Label of the AES seal key in the token.",
        ),
        click.option(
            "--max-attempts",
            type=click.IntRange(1, 1000),
            default=10,
            show_default=True,
            help="Password guesses allowed per account.",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _sealer(key_file: str, lib: str | None, token: str, key: str, *, create: bool) -> Sealer:
    from pathlib import Path

    if lib:
        sealer = Pkcs11Sealer(lib, token, key)
        if create:
            sealer.create_key()
        return sealer
    path = Path(key_file)
    if create and not path.exists():
        return KeyFileSealer.create(path)
    return KeyFileSealer(path)


@click.group("vault")
def vault() -> None:
    """Run the guess-limited key vault (OPAQUE, RFC 9807)."""


@vault.command("init")
@_store_options
def init_cmd(
    database: str,
    pg_schema: str,
    key_file: str,
    pkcs11_lib: str | None,
    pkcs11_token: str,
    pkcs11_key: str,
    max_attempts: int,
) -> None:
    """Create the vault database and its sealed server secrets."""
    from coffer.vault.server import init_vault, open_store

    try:
        store = open_store(database, max_attempts=max_attempts, pg_schema=pg_schema)
        sealer = _sealer(key_file, pkcs11_lib, pkcs11_token, pkcs11_key, create=True)
        setup = init_vault(store, sealer)
        store.close()
    except CofferError as exc:
        raise _fail(exc) from None
    click.echo(f"vault initialised in {database}")
    click.echo(f"public key:  {wire.b64e(setup.public_key)}")
    click.echo(f"fingerprint: {fingerprint(setup.public_key)}")


@vault.command("serve")
@_store_options
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8420, show_default=True)
@click.option("--node", default="", help="Name of this node in logs and the audit trail.")
@click.option(
    "--default-ksf",
    type=click.Choice(sorted(KSF_PROFILES)),
    default="mobile",
    show_default=True,
    help="KSF the vault advises clients to register with.",
)
@click.option(
    "--rate-per-address",
    type=float,
    default=20.0,
    show_default=True,
    help="Requests per second per client address (0: no limit).",
)
@click.option(
    "--rate-per-account",
    type=float,
    default=1.0,
    show_default=True,
    help="Requests per second per account (0: no limit).",
)
@click.option("--burst", type=int, default=20, show_default=True, help="Bucket size.")
@click.option(
    "--trust-forwarded-for",
    is_flag=True,
    help="Take the client address from X-Forwarded-For (behind a trusted proxy).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
)
def serve_cmd(
    database: str,
    pg_schema: str,
    key_file: str,
    pkcs11_lib: str | None,
    pkcs11_token: str,
    pkcs11_key: str,
    max_attempts: int,
    host: str,
    port: int,
    node: str,
    default_ksf: str,
    rate_per_address: float,
    rate_per_account: float,
    burst: int,
    trust_forwarded_for: bool,
    log_level: str,
) -> None:
    """Serve the vault API over HTTP (uvicorn)."""
    import uvicorn

    from coffer.vault.app import HttpSettings, create_app
    from coffer.vault.audit import configure_logging
    from coffer.vault.server import load_core, open_store

    settings = VaultSettings(
        default_ksf=wire.ksf_to_json(KSF_PROFILES[default_ksf]),
        node=node or f"{host}:{port}",
    )
    http = HttpSettings(
        per_address=Limit(rate_per_address, max(burst, 1)),
        per_account=Limit(rate_per_account, max(burst, 1)),
        trust_forwarded_for=trust_forwarded_for,
    )
    try:
        store = open_store(database, max_attempts=max_attempts, pg_schema=pg_schema)
        sealer = _sealer(key_file, pkcs11_lib, pkcs11_token, pkcs11_key, create=False)
        core = load_core(store, sealer, settings)
    except CofferError as exc:
        raise _fail(exc) from None
    configure_logging(getattr(logging, log_level.upper()))
    click.echo(
        f"vault {fingerprint(core.setup.public_key)} serving on http://{host}:{port}", err=True
    )
    uvicorn.run(create_app(core, http), host=host, port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    vault()
