"""Shared CLI plumbing: the repository address, how the key is obtained, output mode.

Rules:
- The repository comes from ``--repo`` or ``--repository-file`` (never both), else
  ``COFFER_REPO``, else ``COFFER_REPOSITORY_FILE`` (a file holding the address, as restic's).
- Every command that needs the repository key goes through :func:`open_repository`, which hands
  the flags to :func:`coffer.unlock.open_repository` as an :class:`~coffer.unlock.OutsideSecrets`
  (``--recovery-key-file``/``--recovery-key-command``/``COFFER_RECOVERY_KEY``,
  ``--password-file``/``--password-command``/``COFFER_PASSWORD``) and a terminal prompter
  (:mod:`coffer.cli.unlock`); the vault from ``--vault``/``--account``/``--vault-key``, the
  environment, the config file or the slot's metadata. ``--remember`` keeps the key that
  opened the repository (:mod:`coffer.unlock.remember`); nothing is kept by default.
- Opening checks freshness (:mod:`coffer.freshness.guard`): its notices go to stderr
  (``coffer: …``, or a ``warning`` JSON line with ``--json``); ``--accept-rollback`` — on the
  command or before it (``coffer --accept-rollback restore …``) — goes on past a rollback.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from coffer.backends.base import Backend
from coffer.backends.registry import BackendOptions, open_backend
from coffer.crypto.recovery import RecoveryKey
from coffer.engine.repository import Repository
from coffer.errors import UsageError
from coffer.unlock.secrets import OutsideSecrets, read_text_file
from coffer.unlock.settings import VaultTarget, resolve

if TYPE_CHECKING:
    from coffer.freshness.guard import FreshnessOptions

ENV_REPO = "COFFER_REPO"
ENV_REPOSITORY_FILE = "COFFER_REPOSITORY_FILE"
# commands that say "same-device protection only" to a device meeting a repository without a
# witness for the first time (restoring is the new-device case; other commands stay quiet)
SAY_PROTECTION = frozenset({"restore"})

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Options:
    repo: str | None
    recovery_key_file: Path | None
    json: bool
    quiet: bool
    password_file: Path | None = None
    vault_flags: VaultTarget = field(default_factory=VaultTarget)
    remember: bool = False
    limit_upload: float | None = None
    limit_download: float | None = None
    password_command: str | None = None
    recovery_key_command: str | None = None
    repository_file: Path | None = None
    verbose: int = 0
    accept_rollback: bool = False
    _secrets: OutsideSecrets | None = field(default=None, repr=False)

    @property
    def vault(self) -> VaultTarget:
        """Vault address, account and key: flags over environment over the config file."""
        return resolve(self.vault_flags)

    @property
    def secrets(self) -> OutsideSecrets:
        """The secrets the flags and the environment give (read lazily, once)."""
        if self._secrets is None:
            self._secrets = OutsideSecrets(
                password_file=self.password_file,
                password_command=self.password_command,
                recovery_key_file=self.recovery_key_file,
                recovery_key_command=self.recovery_key_command,
            )
        return self._secrets


def common_options(func: F) -> F:
    """Add --repo, --recovery-key-file, the password-route options, --json and --quiet."""

    @click.option("-r", "--repo", help="repository address (or COFFER_REPO)")
    @click.option(
        "--repository-file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="file holding the repository address (or COFFER_REPOSITORY_FILE)",
    )
    @click.option(
        "--recovery-key-file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="file holding the recovery key (or COFFER_RECOVERY_KEY)",
    )
    @click.option(
        "--recovery-key-command",
        metavar="COMMAND",
        help="command printing the recovery key (or COFFER_RECOVERY_KEY_COMMAND)",
    )
    @click.option(
        "--password-file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="file holding the password (or COFFER_PASSWORD)",
    )
    @click.option(
        "--password-command",
        metavar="COMMAND",
        help="command printing the password (or COFFER_PASSWORD_COMMAND)",
    )
    @click.option("--vault", "vault_url", help="key vault address (or COFFER_VAULT)")
    @click.option("--account", help="account at the key vault (or COFFER_ACCOUNT)")
    @click.option("--vault-key", help="pinned vault key fingerprint (or COFFER_VAULT_KEY)")
    @click.option("--remember", is_flag=True, help="keep the key in the OS keyring or a 0600 file")
    @click.option(
        "--limit-upload",
        type=click.FloatRange(min=1),
        help="upload bandwidth limit in KiB/s (or COFFER_LIMIT_UPLOAD)",
    )
    @click.option(
        "--limit-download",
        type=click.FloatRange(min=1),
        help="download bandwidth limit in KiB/s (or COFFER_LIMIT_DOWNLOAD)",
    )
    @click.option("--json", "as_json", is_flag=True, help="machine-readable output")
    @click.option(
        "--accept-rollback",
        is_flag=True,
        help="go on when storage shows an older state than this device or the witness has "
        "seen (records the loss; exit code 20 otherwise)",
    )
    @click.option("-q", "--quiet", is_flag=True, help="no progress bars")
    @click.option(
        "-v",
        "--verbose",
        count=True,
        help="more output: -v lists each file backed up or restored, -vv unchanged ones too",
    )
    @functools.wraps(func)
    def wrapper(
        repo: str | None,
        repository_file: Path | None,
        recovery_key_file: Path | None,
        recovery_key_command: str | None,
        password_file: Path | None,
        password_command: str | None,
        vault_url: str | None,
        account: str | None,
        vault_key: str | None,
        remember: bool,
        limit_upload: float | None,
        limit_download: float | None,
        as_json: bool,
        accept_rollback: bool,
        quiet: bool,
        verbose: int,
        **kw: Any,
    ) -> Any:
        target = VaultTarget(vault_url, account, vault_key)
        opts = Options(repo, recovery_key_file, as_json, quiet, password_file, target, remember)
        opts.limit_upload, opts.limit_download = limit_upload, limit_download
        opts.password_command, opts.recovery_key_command = password_command, recovery_key_command
        opts.repository_file, opts.verbose = repository_file, verbose
        opts.accept_rollback = accept_rollback or _global_accept_rollback()
        return func(opts, **kw)

    return wrapper  # type: ignore[return-value]


def _global_accept_rollback() -> bool:
    """``coffer --accept-rollback COMMAND``: the flag given before the command."""
    ctx = click.get_current_context(silent=True)
    root = ctx.find_root() if ctx is not None else None
    return bool(root is not None and root.params.get("accept_rollback"))


def freshness_options(opts: Options) -> FreshnessOptions:
    """How the freshness check reports to this command's user."""
    from coffer.freshness.guard import FreshnessOptions

    def notify(message: str) -> None:
        if opts.json:
            from coffer.cli.jsonstream import line

            line({"message_type": "warning", "message": message}, sys.stderr)
        else:
            from coffer.cli.output import safe_text  # rich loads only when a notice is shown

            click.echo(f"coffer: {safe_text(message)}", err=True)

    ctx = click.get_current_context(silent=True)
    say = ctx is not None and ctx.info_name in SAY_PROTECTION
    return FreshnessOptions(accept_rollback=opts.accept_rollback, notify=notify, say_protection=say)


def repository_address(opts: Options) -> str:
    """``--repo``/``--repository-file``, else ``COFFER_REPO``/``COFFER_REPOSITORY_FILE``."""
    if opts.repo and opts.repository_file is not None:
        raise UsageError("--repo and --repository-file are mutually exclusive")
    if opts.repo:
        return opts.repo
    path = opts.repository_file
    if path is None:
        if env := os.environ.get(ENV_REPO):
            return env
        path = (
            Path(os.environ[ENV_REPOSITORY_FILE]) if os.environ.get(ENV_REPOSITORY_FILE) else None
        )
    if path is None:
        raise UsageError("no repository given: use --repo or --repository-file, or set COFFER_REPO")
    address = read_text_file(path).strip()
    if not address or "\n" in address:
        raise UsageError(f"{path} must hold one repository address on one line")
    return address


def backend_for(opts: Options) -> Backend:
    options = BackendOptions.from_env()
    if opts.limit_upload is not None:
        options = dataclasses.replace(options, upload_kib=opts.limit_upload)
    if opts.limit_download is not None:
        options = dataclasses.replace(options, download_kib=opts.limit_download)
    return open_backend(repository_address(opts), options)


def write_recovery_key_file(path: Path, key: RecoveryKey) -> None:
    """Write a recovery key to a NEW file only the user can read (0600); never overwrite."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise UsageError(f"cannot create {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w") as fh:
        fh.write(key.display() + "\n")


def open_repository(opts: Options, vault: VaultTarget | None = None) -> Repository:
    """Open the repository with the key the user supplied (see :mod:`coffer.unlock.flow`);
    ``vault`` replaces the vault settings of the flags (``password set`` names a new account).

    A key given by file, command or environment is parsed first, so a typo is reported before
    the repository is read; an interactive prompt comes only after the repository was found.
    """
    from coffer.cli.unlock import TerminalPrompter, remembered_notice
    from coffer.unlock import open_repository as unlock_repository

    if (given := opts.secrets.recovery_key()) is not None:
        RecoveryKey.parse(given.value.decode("utf-8"))  # a typo is reported before any I/O
    backend = backend_for(opts)
    opened = unlock_repository(
        backend,
        opts.secrets,
        TerminalPrompter(),
        opts.vault if vault is None else vault,
        remember_key=opts.remember,
        freshness=freshness_options(opts),
    )
    if opened.remembered_in is not None:
        remembered_notice(opened.repository.repo_id, opened.remembered_in)
    return opened.repository


def resolve_snapshot(repo: Repository, ref: str) -> str:
    """Turn ``latest`` or an ID prefix into a snapshot ID (the rules: :mod:`coffer.ops.listing`)."""
    from coffer.ops.listing import resolve_snapshot as resolve

    return resolve(repo, ref)[0].id
