"""``coffer init``: create a repository and its first key slot(s).

Rules:

- Default: one recovery-key slot. ``--password``: a vault slot — the password (asked twice;
  zxcvbn-checked) protects a fresh V escrowed in the key vault
  (:mod:`coffer.unlock.vault_route`); with ``--recovery-key`` as well, both slots, and either
  opens the repository.
- ``--password`` alone says what it means (the password becomes the only key) and asks for
  confirmation at a terminal; without one it is refused unless ``--no-recovery-key`` (or
  ``--recovery-key``) says which was meant.
- Before the password is asked for, the vault is reached, its key checked and the account name
  checked free; V is escrowed before the repository is written, so a refusal leaves nothing
  behind.
"""

from __future__ import annotations

from pathlib import Path

import click

from coffer.backends.base import ObjectType
from coffer.cli.context import Options, backend_for, common_options, write_recovery_key_file
from coffer.cli.output import emit_json
from coffer.cli.password_input import can_prompt, read_new_password
from coffer.crypto.recovery import RecoveryKey
from coffer.crypto.slots import SlotKind
from coffer.engine.errors import RepositoryExists
from coffer.engine.repository import Repository
from coffer.errors import UsageError
from coffer.unlock import VaultTarget, vault_route
from coffer.unlock.strength import account_hints

_PASSWORD_FLAGS = "--password-file, --password-command, COFFER_PASSWORD"  # noqa: S105
INSTRUCTION = (
    "This is your recovery key. It is the ONLY way to open these backups without a vault\n"
    "password: write it down or store it in a password manager now. Coffer will not show it again."
)


@click.command("init")
@common_options
@click.option(
    "--save-recovery-key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="also write the recovery key to this new file (mode 0600)",
)
@click.option("--password", "use_password", is_flag=True, help="protect it with a password")
@click.option(
    "--witness",
    "witness_url",
    metavar="URL",
    help="freshness witness (a key vault) that remembers the newest backup for new devices "
    "(default: the password's vault; none for a recovery key)",
)
@click.option(
    "--recovery-key/--no-recovery-key",
    "use_recovery",
    default=None,
    help="with --password: also a recovery key (recommended), or confirm there is none",
)
def command(
    opts: Options,
    save_recovery_key: Path | None,
    use_password: bool,
    use_recovery: bool | None,
    witness_url: str | None,
) -> None:
    """Create a new encrypted repository; print its recovery key once (unless --password)."""
    backend = backend_for(opts)
    if witness_url is not None:
        witness_url = _reach_witness(witness_url)
    if save_recovery_key is not None and save_recovery_key.exists():
        raise UsageError(f"{save_recovery_key} already exists; the recovery key goes to a new file")
    if use_recovery is False and (save_recovery_key is not None or not use_password):
        raise UsageError(
            "--no-recovery-key goes with --password (and without --save-recovery-key): "
            "a repository needs at least one key"
        )
    if save_recovery_key is not None or not use_password:
        use_recovery = True
    vault_slot: tuple[bytes, dict[str, str]] | None = None
    if use_password:
        if backend.exists(ObjectType.CONFIG, "config"):
            raise RepositoryExists(f"a repository already exists at {backend.location}")
        target = opts.vault
        vault = vault_route.check_vault(target, account_free=True)  # before any prompt
        if use_recovery is None:
            use_recovery = not _confirm_password_only(target, vault.max_attempts)
        password = read_new_password(
            opts.secrets.password(), _PASSWORD_FLAGS, account_hints(target.account)
        )
        vault_slot = vault_route.escrow_new_secret(target, password)
    repo = Repository.init(backend)
    if witness_url is None and vault_slot is not None:
        # the password's vault is the witness; recorded in the sealed config too, because the
        # slot's own metadata is authenticated only when that slot opens: a device opening
        # with the recovery key must not take the witness from it (review Q9)
        witness_url = vault_slot[1][vault_route.META_URL].rstrip("/")
    if witness_url is not None:
        repo.set_witness(witness_url)
    info: dict[str, str] = {"repository": backend.location, "repository_id": repo.repo_id.hex()}
    if vault_slot is not None:
        info["password_slot"] = repo.add_slot(SlotKind.VAULT, vault_slot[0], vault_slot[1])
        info.update(vault_slot[1])
    if not use_recovery:
        _report(opts, info)
        _first_record(opts, repo)
        return
    key = RecoveryKey.generate()
    info["key_slot"] = repo.add_slot(SlotKind.RECOVERY, key.secret)
    _first_record(opts, repo)
    if opts.json:
        emit_json({**info, "recovery_key": key.display()})
    else:
        _report(opts, info)
        click.echo(INSTRUCTION + "\n")
        click.echo("    " + key.display() + "\n")
    if save_recovery_key is not None:  # after showing the key: a failed write never loses it
        write_recovery_key_file(save_recovery_key, key)


def _reach_witness(url: str) -> str:
    """``--witness``: the address must answer as a key vault (its key pinned on first use)
    before anything is created."""
    from coffer.cli.witness_cmd import check_url

    url = check_url(url)
    client = vault_route.vault_client(url, None)
    try:
        client.info()
    finally:
        client.close()
    return url


def _first_record(opts: Options, repo: Repository) -> None:
    """This device's freshness record starts with the repository (and says what protects it)."""
    from dataclasses import replace

    from coffer.cli.context import freshness_options
    from coffer.engine.repository import list_slots
    from coffer.freshness.guard import guard
    from coffer.freshness.witness_link import link_for

    link = link_for(repo, list_slots(repo.backend), opts.vault, None)
    guard(repo, replace(freshness_options(opts), witness=link, say_protection=True))


def _confirm_password_only(target: VaultTarget, max_attempts: int) -> bool:
    """``init --password`` alone: say what it means and ask (a refusal without a terminal)."""
    meaning = (
        "without a recovery key the password is the only way to open this repository: if it "
        f"is forgotten, or {max_attempts} wrong passwords make the key vault destroy its key, or "
        f"the vault "
        f"at {target.url} is lost, nobody can open these backups again"
    )
    if not can_prompt():
        raise UsageError(
            f"{meaning}. Add --recovery-key (recommended) or --no-recovery-key to confirm; "
            "nothing was created"
        )
    click.echo(meaning[0].upper() + meaning[1:] + ".", err=True)
    if click.confirm("Create it with the password as its only key?", default=False, err=True):
        return True
    raise UsageError(
        "nothing was created: add --recovery-key to have a recovery key as well (recommended)"
    )


def _report(opts: Options, info: dict[str, str]) -> None:
    if opts.json:
        if "key_slot" not in info:
            emit_json(info)
        return
    click.echo(f"created repository {info['repository_id'][:8]} at {info['repository']}\n")
    if "password_slot" in info:
        click.echo(
            f"password slot {info['password_slot'][:12]}: key escrowed at {info['vault_url']} "
            f"for account {info['account']!r} (vault key {info['vault_fingerprint']})\n"
        )
