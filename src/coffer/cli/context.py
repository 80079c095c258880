"""Shared CLI plumbing: the repository address, how the key is obtained, output mode.

Rules:
- The repository comes from ``--repo`` or ``COFFER_REPO``; the recovery key from
  ``--recovery-key-file``, ``COFFER_RECOVERY_KEY`` or a hidden prompt — in that order. A typo in
  a recovery key is caught by its checksum before the repository is touched.
- Every command that needs the repository key goes through :func:`open_repository`, so new
  unlock routes (the password via the key vault) are added in one place.
- The password route (:mod:`coffer.cli.unlock`): ``--password-file`` or ``COFFER_PASSWORD`` or a
  prompt; the vault from ``--vault``/``--account``/``--vault-key``, the environment, the config
  file or the slot's metadata. ``--remember`` keeps the key that opened the repository
  (:mod:`coffer.cli.remember`); nothing is kept by default.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click

from coffer.backends.base import Backend
from coffer.backends.registry import BackendOptions, open_backend
from coffer.cli.config_file import VaultTarget, resolve
from coffer.crypto.recovery import RecoveryKey
from coffer.crypto.slots import SlotKind
from coffer.engine.errors import SnapshotNotFound
from coffer.engine.repository import Repository, list_slots, read_config_header
from coffer.errors import UsageError, WrongKey

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

    @property
    def vault(self) -> VaultTarget:
        """Vault address, account and key: flags over environment over the config file."""
        return resolve(self.vault_flags)


def common_options(func: F) -> F:
    """Add --repo, --recovery-key-file, the password-route options, --json and --quiet."""

    @click.option("-r", "--repo", envvar="COFFER_REPO", help="repository address (or COFFER_REPO)")
    @click.option(
        "--recovery-key-file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="file holding the recovery key (or COFFER_RECOVERY_KEY)",
    )
    @click.option(
        "--password-file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="file holding the password (or COFFER_PASSWORD)",
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
    @click.option("-q", "--quiet", is_flag=True, help="no progress bars")
    @functools.wraps(func)
    def wrapper(
        repo: str | None,
        recovery_key_file: Path | None,
        password_file: Path | None,
        vault_url: str | None,
        account: str | None,
        vault_key: str | None,
        remember: bool,
        limit_upload: float | None,
        limit_download: float | None,
        as_json: bool,
        quiet: bool,
        **kw: Any,
    ) -> Any:
        target = VaultTarget(vault_url, account, vault_key)
        opts = Options(repo, recovery_key_file, as_json, quiet, password_file, target, remember)
        opts.limit_upload, opts.limit_download = limit_upload, limit_download
        return func(opts, **kw)

    return wrapper  # type: ignore[return-value]


def backend_for(opts: Options) -> Backend:
    if not opts.repo:
        raise UsageError("no repository given: use --repo or set COFFER_REPO")
    options = BackendOptions.from_env()
    if opts.limit_upload is not None:
        options = dataclasses.replace(options, upload_kib=opts.limit_upload)
    if opts.limit_download is not None:
        options = dataclasses.replace(options, download_kib=opts.limit_download)
    return open_backend(opts.repo, options)


def _key_text_without_prompt(opts: Options) -> str | None:
    if opts.recovery_key_file is not None:
        try:
            return opts.recovery_key_file.read_text()
        except OSError as exc:
            raise UsageError(f"cannot read {opts.recovery_key_file}: {exc.strerror}") from None
    return os.environ.get("COFFER_RECOVERY_KEY") or None


def read_recovery_key(opts: Options) -> RecoveryKey:
    """Obtain and parse the recovery key (typos raise before any storage access)."""
    text = _key_text_without_prompt(opts)
    if text is None:
        if not sys.stdin.isatty():
            raise WrongKey(
                "no recovery key given: use --recovery-key-file, COFFER_RECOVERY_KEY or a terminal"
            )
        text = click.prompt("Recovery key", hide_input=True)
    return RecoveryKey.parse(text)


def write_recovery_key_file(path: Path, key: RecoveryKey) -> None:
    """Write a recovery key to a NEW file only the user can read (0600); never overwrite."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise UsageError(f"cannot create {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w") as fh:
        fh.write(key.display() + "\n")


def open_repository(opts: Options) -> Repository:
    """Open the repository with the key the user supplied.

    A key given by file or environment is parsed first, so a typo is reported before the
    storage is touched; an interactive prompt comes only after the repository was found.
    """
    key = RecoveryKey.parse(text) if (text := _key_text_without_prompt(opts)) else None
    backend = backend_for(opts)
    header, _sealed = read_config_header(backend)
    if key is None:
        from coffer.cli import unlock  # the vault client (httpx) only when it may be needed

        other = unlock.open_other_routes(
            backend, header[5:], opts.password_file, opts.vault, opts.remember
        )
        if other is not None:
            return other
        kinds = {s.kind for s in list_slots(backend)}
        if kinds and SlotKind.RECOVERY not in kinds:
            raise WrongKey("this repository has no recovery-key slot; use the password route")
        key = read_recovery_key(opts)
    repo = Repository.open(backend, SlotKind.RECOVERY, key.secret)
    if opts.remember:
        from coffer.cli import unlock

        unlock.keep_if_asked(opts.remember, repo, SlotKind.RECOVERY, key.secret)
    return repo


def resolve_snapshot(repo: Repository, ref: str) -> str:
    """Turn ``latest`` or an ID prefix into a full snapshot ID."""
    ids = repo.snapshot_ids()
    if ref == "latest":
        if not ids:
            raise SnapshotNotFound("the repository has no snapshots")
        return max(ids, key=lambda i: repo.load_snapshot(i).time)
    matches = [i for i in ids if i.startswith(ref.lower())]
    if len(matches) != 1:
        what = "no snapshot" if not matches else f"{len(matches)} snapshots"
        raise SnapshotNotFound(f"{what} match {ref!r}")
    return matches[0]
