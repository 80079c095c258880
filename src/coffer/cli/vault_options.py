"""Options shared by the ``coffer vault`` commands: the database, the seal, the stored settings.

Rules: the database and the seal key come from flags or the environment (``COFFER_VAULT_DB``,
``COFFER_VAULT_KEY_FILE``, ``COFFER_VAULT_PKCS11_LIB`` / ``_TOKEN`` / ``_KEY`` /
``_PIN_FILE``); the PKCS#11 PIN never from a flag value (a PIN file, a systemd credential, or
``COFFER_VAULT_PKCS11_PIN``). Every Coffer error becomes one line on stderr and its exit code
(15 for vault errors).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from coffer.errors import CofferError
from coffer.vault import wire
from coffer.vault.seal import KeyFileSealer, Pkcs11Sealer, Sealer, resolve_pin
from coffer.vault.settings import KSF_PROFILES, VaultSettings

F = Callable[..., Any]


def fail(exc: CofferError) -> click.ClickException:
    """A ClickException that prints the error and exits with the Coffer error's code."""
    cls = type("VaultCommandError", (click.ClickException,), {"exit_code": exc.exit_code})
    error: click.ClickException = cls(str(exc))
    return error


def _apply(f: F, options: list[F]) -> F:
    for option in reversed(options):
        f = option(f)
    return f


def store_options(f: F) -> F:
    return _apply(
        f,
        [
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
        ],
    )


def seal_options(f: F, prefix: str = "", what: str = "") -> F:
    """``--key-file`` / ``--pkcs11-*``; with ``prefix="to-"`` the target of a rotation."""
    env = "" if prefix else "COFFER_VAULT_"
    p = prefix.replace("-", "_")

    def envvar(name: str) -> str | None:
        return f"{env}{name}" if env else None

    return _apply(
        f,
        [
            click.option(
                f"--{prefix}key-file",
                f"{p}key_file",
                envvar=envvar("KEY_FILE"),
                default=None if prefix else "vault-seal.key",
                show_default=not prefix,
                type=click.Path(dir_okay=False, path_type=Path),
                help=f"0600 seal-key file{what} (ignored when --{prefix}pkcs11-lib is given).",
            ),
            click.option(
                f"--{prefix}pkcs11-lib",
                f"{p}pkcs11_lib",
                envvar=envvar("PKCS11_LIB"),
                default=None,
                help=f"PKCS#11 module{what}: seal with a key inside this HSM token.",
            ),
            click.option(
                f"--{prefix}pkcs11-token",
                f"{p}pkcs11_token",
                envvar=envvar("PKCS11_TOKEN"),
                default="coffer-vault",
                show_default=True,
                help="Token label.",
            ),
            click.option(
                f"--{prefix}pkcs11-key",
                f"{p}pkcs11_key",
                envvar=envvar("PKCS11_KEY"),
                default="coffer-vault-seal",
                show_default=True,
                help="Label of the AES seal key in the token.",
            ),
            click.option(
                f"--{prefix}pkcs11-pin-file",
                f"{p}pkcs11_pin_file",
                envvar=envvar("PKCS11_PIN_FILE"),
                default=None,
                type=click.Path(dir_okay=False, path_type=Path),
                help="File holding the token's user PIN (0600). Otherwise the systemd "
                "credential 'coffer-vault-pkcs11-pin', or COFFER_VAULT_PKCS11_PIN.",
            ),
        ],
    )


def make_sealer(
    key_file: Path | None,
    lib: str | None,
    token: str,
    key: str,
    pin_file: Path | None,
    *,
    create: bool,
) -> Sealer:
    if lib:
        sealer = Pkcs11Sealer(lib, token, key, pin=resolve_pin(pin_file))
        if create:
            sealer.create_key()
        return sealer
    if key_file is None:
        raise click.UsageError("give a seal key file or a PKCS#11 module")
    if create and not key_file.exists():
        return KeyFileSealer.create(key_file)
    return KeyFileSealer(key_file)


SETTINGS_FLAGS: dict[str, tuple[str, Any, str]] = {
    # name: (flag, click type, help)
    "max_attempts": ("--max-attempts", click.IntRange(1, 1000), "Password guesses per account."),
    "attempt_ttl": ("--attempt-ttl", click.FloatRange(5, 3600), "Seconds a KE2 stays usable."),
    "grant_ttl": (
        "--grant-ttl",
        click.FloatRange(5, 3600),
        "Seconds a password-change grant lasts.",
    ),
    "context": ("--context", str, "OPAQUE context string (default empty: stock opaque-ke)."),
    "default_ksf": (
        "--default-ksf",
        click.Choice(sorted(KSF_PROFILES)),
        "KSF profile advised for new registrations.",
    ),
    "allowed_ksf": (
        "--allowed-ksf",
        str,
        f"Comma-separated KSF profiles accepted at registration ({', '.join(KSF_PROFILES)}).",
    ),
    "rate_per_address": ("--rate-per-address", click.FloatRange(0), "Requests/s per address."),
    "burst_per_address": ("--burst-per-address", click.IntRange(1), "Bucket size per address."),
    "rate_per_account": ("--rate-per-account", click.FloatRange(0), "Requests/s per account."),
    "burst_per_account": ("--burst-per-account", click.IntRange(1), "Bucket size per account."),
    "ghost_ttl_days": ("--ghost-ttl-days", click.FloatRange(0.01), "Days before idle ghosts go."),
    "audit_retention_days": (
        "--audit-retention-days",
        click.FloatRange(0),
        "Days of audit log kept (0: forever).",
    ),
}


def settings_options(f: F) -> F:
    return _apply(
        f,
        [
            click.option(flag, name, type=kind, default=None, help=help_)
            for name, (flag, kind, help_) in SETTINGS_FLAGS.items()
        ],
    )


def settings_from_flags(base: VaultSettings, values: dict[str, Any]) -> VaultSettings:
    """``base`` with every given settings flag applied."""
    changes: dict[str, Any] = {}
    for name in SETTINGS_FLAGS:
        value = values.get(name)
        if value is None:
            continue
        if name == "context":
            value = str(value).encode("latin-1")
        elif name == "default_ksf":
            value = wire.ksf_to_json(KSF_PROFILES[value])
        elif name == "allowed_ksf":
            value = tuple(x.strip() for x in str(value).split(",") if x.strip())
        changes[name] = value
    return base.replace(**changes)
