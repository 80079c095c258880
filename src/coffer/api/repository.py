"""``coffer.Repository``: the Python API's one class — init, open, backup, snapshots, restore,
check — doing what the CLI does, with the same locks and the same failures.

Rules:
- Opening goes through :func:`coffer.unlock.open_repository`, exactly as the CLI's does: a given
  recovery key (its checksum is checked before any I/O), else a given password through the key
  vault, else a key kept by ``remember=True`` earlier; nobody is ever prompted
  (:data:`~coffer.unlock.NO_PROMPTER`), so a missing secret is :class:`~coffer.unlock.NoSecret`.
- Nothing is read from the environment or the user's config file: the arguments and the key
  slot's own record of its vault decide. (The trust-on-first-use record of vault keys and keys
  kept with ``remember=True`` are the user's, and are used as the CLI uses them.)
- ``backup`` holds a shared repository lock while it runs (a dry run writes nothing, not even a
  lock), ``restore`` and ``check`` hold one too: prune on another device cannot delete what
  they need, and ``coffer unlock`` sees who holds it.
- A method ends the way the CLI's command ends: where the CLI exits non-zero after finishing
  (files skipped by a backup, entries not restored, problems found by check) the method raises
  that same exception class, with what it would have returned in the exception's ``result``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from coffer.api.results import BackupSummary, CheckReport, RestoreSummary, SnapshotInfo
from coffer.backends.registry import BackendOptions, open_backend
from coffer.crypto.recovery import RecoveryKey
from coffer.crypto.slots import SlotKind
from coffer.engine import repository as engine
from coffer.engine.locks import locked
from coffer.engine.progress import Progress
from coffer.errors import IntegrityError, PartialBackup, RestoreIncomplete, UsageError
from coffer.ops import check as check_op
from coffer.ops import restore as restore_op
from coffer.ops import snapshot_filter
from coffer.ops.backup import BackupOptions, backup
from coffer.ops.exclude import ExcludeRules
from coffer.ops.listing import list_snapshots
from coffer.ops.restore import RestoreOptions
from coffer.ops.snapshot_filter import SnapshotFilter

if TYPE_CHECKING:
    from coffer import unlock

Address = str | os.PathLike[str]


class Repository:
    """An open Coffer repository. Get one from :meth:`init` or :meth:`open`; close it (or use
    it in a ``with`` block) when done."""

    def __init__(self, _opened: engine.Repository, _address: str) -> None:
        """Not for callers: use :meth:`Repository.init` or :meth:`Repository.open`."""
        self._repo = _opened
        self._address = _address

    def __repr__(self) -> str:
        return f"coffer.Repository({self._address!r}, id={self.id[:8]})"

    def __enter__(self) -> Repository:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def id(self) -> str:
        """The repository's ID (64 hex digits), the same for every copy of it."""
        return self._repo.repo_id.hex()

    @property
    def address(self) -> str:
        return self._address

    def close(self) -> None:
        """Release the storage connection (an rclone child process, HTTP connections)."""
        self._repo.backend.close()

    # -- creating and opening -------------------------------------------------------------
    @classmethod
    def init(
        cls,
        address: Address,
        *,
        password: str | None = None,
        vault: str | None = None,
        account: str | None = None,
        vault_key: str | None = None,
        recovery_key: bool | None = None,
        witness: str | None = None,
    ) -> tuple[Repository, str | None]:
        """Create a repository; return it and its recovery key (64 characters, shown once).

        Without ``password`` the repository gets a recovery-key slot. With ``password`` (and the
        ``vault`` address and ``account``), the password protects a key escrowed at the vault
        — checked for strength first, so a weak one raises ``WeakPassword`` before anything is
        written — and there is no recovery key unless ``recovery_key=True``; the second value
        is then None. ``witness`` names a key vault that keeps the newest state for new devices
        (a password repository's vault is its witness anyway). The repository comes back checked
        and stamped like one from :meth:`open`: this device's freshness record starts here, so
        its backups carry this device's writer counter and reach the witness.
        """
        address = os.fspath(address)
        if witness is not None and not witness.lower().startswith(("http://", "https://")):
            raise UsageError(f"a witness address must start with http:// or https://: {witness!r}")
        backend = open_backend(address, BackendOptions())
        with_recovery = recovery_key if recovery_key is not None else password is None
        if not with_recovery and password is None:
            raise UsageError("a repository needs a recovery key or a password")
        slot = _escrow(password, vault, account, vault_key) if password is not None else None
        repo = engine.Repository.init(backend)
        if witness is None and slot is not None:
            from coffer.unlock.vault_route import META_URL

            witness = slot[1][META_URL]  # sealed too: see coffer.cli.init_cmd (review Q9)
        if witness is not None:
            repo.set_witness(witness.rstrip("/"))
        if slot is not None:
            repo.add_slot(SlotKind.VAULT, *slot)
        key = RecoveryKey.generate() if with_recovery else None
        if key is not None:
            repo.add_slot(SlotKind.RECOVERY, key.secret)
        from coffer.unlock import VaultTarget

        _first_record(repo, VaultTarget(vault, account, vault_key))
        return cls(repo, address), key.display() if key is not None else None

    @classmethod
    def open(
        cls,
        address: Address,
        *,
        recovery_key: str | None = None,
        password: str | None = None,
        vault: str | None = None,
        account: str | None = None,
        vault_key: str | None = None,
        remember: bool = False,
        accept_rollback: bool = False,
    ) -> Repository:
        """Open a repository with its recovery key or its password (through the key vault).

        ``vault``, ``account`` and ``vault_key`` override the key slot's own record of where its
        key is escrowed; ``remember=True`` keeps the key that opened it in the OS keyring (or a
        0600 file), so a later ``open`` without a secret succeeds.

        Opening checks freshness as the CLI does: storage that shows an older state than this
        device or the repository's witness has seen raises ``FreshnessError`` unless
        ``accept_rollback=True`` (which records the loss); notices (a witness that cannot be
        reached, same-device protection only) are issued with :mod:`warnings` (category
        ``FreshnessWarning``, a ``UserWarning``).
        """
        from coffer.freshness.guard import FreshnessOptions
        from coffer.unlock import NO_PROMPTER, StaticSecrets, VaultTarget
        from coffer.unlock import open_repository as unlock

        if recovery_key is not None:
            RecoveryKey.parse(recovery_key)  # a typo is reported before the storage is read
        address = os.fspath(address)
        backend = open_backend(address, BackendOptions())
        secrets = StaticSecrets(password, recovery_key)
        target = VaultTarget(vault, account, vault_key)
        fresh = FreshnessOptions(accept_rollback=accept_rollback)
        opened = unlock(backend, secrets, NO_PROMPTER, target, remember, fresh)
        return cls(opened.repository, address)

    # -- operations -----------------------------------------------------------------------
    def snapshots(
        self, *, host: str | None = None, tags: Iterable[str] = (), paths: Iterable[str] = ()
    ) -> list[SnapshotInfo]:
        """The snapshots, oldest first; ``host``, every one of ``tags`` and every one of
        ``paths`` (sources, absolute) narrow the list."""
        wanted = _filter(host, tags, paths)
        readable = list_snapshots(self._repo, with_times=False).snapshots  # damaged: left out
        return [SnapshotInfo.of(s) for s in wanted.apply(readable)]

    def backup(
        self,
        sources: Iterable[Address],
        *,
        tags: Iterable[str] = (),
        host: str | None = None,
        exclude: Iterable[str] = (),
        iexclude: Iterable[str] = (),
        exclude_caches: bool = False,
        one_file_system: bool = False,
        force: bool = False,
        dry_run: bool = False,
        progress: Progress | None = None,
    ) -> BackupSummary:
        """Back up files and folders (SQLite databases are captured consistently) into a new
        snapshot. The exclude arguments follow restic's patterns (docs/api.md); ``force``
        re-reads every file; ``dry_run`` does everything but write to storage.

        Raises ``PartialBackup`` (its ``result`` is the summary) when some files could not be
        read: the snapshot was saved and lists them.
        """
        options = BackupOptions(tags=list(tags), use_parent=not force, dry_run=dry_run)
        if host is not None:
            options.hostname = host
        options.exclude = ExcludeRules.build(
            exclude, iexclude, exclude_caches=exclude_caches, one_file_system=one_file_system
        )
        paths = [Path(os.fspath(s)) for s in sources]
        with contextlib.nullcontext() if dry_run else locked(self._repo):
            self._repo.load_index()
            result = backup(self._repo, paths, options, progress)
        summary = BackupSummary.of(result, dry_run)
        if summary.skipped:
            raise _with_result(
                PartialBackup(f"{len(summary.skipped)} file(s) could not be read"), summary
            )
        return summary

    def restore(
        self,
        target: Address,
        snapshot: str = "latest",
        *,
        path: str | None = None,
        overwrite: str = "never",
        delete: bool = False,
        strict: bool = False,
        host: str | None = None,
        tags: Iterable[str] = (),
        paths: Iterable[str] = (),
        progress: Progress | None = None,
    ) -> RestoreSummary:
        """Restore ``snapshot`` (an ID, a unique ID prefix or ``"latest"``; the filters narrow
        what ``latest`` means) into the folder ``target``; ``path`` restores one entry of it,
        keeping its place in the snapshot's layout.

        An entry ``target`` already has is kept unless ``overwrite`` is ``"if-changed"``,
        ``"if-newer"`` or ``"always"``; ``delete`` removes entries the snapshot lacks. Only
        authenticated data is written. When some entries could not be restored this raises
        ``IntegrityError`` (the repository's data is damaged) or ``RestoreIncomplete`` (the
        target refused, or a file is in use) — its ``result`` is the summary; ``strict`` stops
        at the first such entry.
        """
        folder = Path(os.fspath(target))
        options = RestoreOptions(overwrite=overwrite, delete=delete, strict=strict)
        with locked(self._repo):
            self._repo.load_index()
            snap = snapshot_filter.resolve(self._repo, snapshot, _filter(host, tags, paths))[0]
            result = restore_op.restore(
                self._repo, snap, folder, path=path, options=options, progress=progress
            )
        summary = RestoreSummary.of(result, snap.id, folder)
        if result.damaged:
            message = f"{len(result.damaged)} entries not restored: their data is damaged"
            raise _with_result(IntegrityError(message), summary)
        if result.incomplete:
            message = f"{len(result.incomplete)} entries could not be written into {folder}"
            raise _with_result(RestoreIncomplete(message), summary)
        return summary

    def check(self, *, read_data: bool = False, progress: Progress | None = None) -> CheckReport:
        """Verify the repository's structure (and with ``read_data``, every stored byte).

        Raises ``IntegrityError`` (its ``result`` is the report) when a problem is found.
        """
        with locked(self._repo):
            report = CheckReport.of(
                check_op.check(self._repo, read_data=read_data, progress=progress)
            )
        if not report.ok:
            message = f"check found {len(report.errors)} problem(s): {report.errors[0]}"
            raise _with_result(IntegrityError(message), report)
        return report


def _filter(host: str | None, tags: Iterable[str], paths: Iterable[str]) -> SnapshotFilter:
    """The API's filter: this host, all of these tags, all of these sources."""
    group = frozenset(tags)
    return SnapshotFilter(
        hosts=(host,) if host is not None else (),
        tag_groups=(group,) if group else (),
        paths=SnapshotFilter.from_flags(paths=paths).paths,
    )


def _with_result(
    exc: PartialBackup | IntegrityError | RestoreIncomplete, result: object
) -> Exception:
    exc.result = result
    return exc


def _escrow(
    password: str, vault: str | None, account: str | None, vault_key: str | None
) -> tuple[bytes, dict[str, str]]:
    """Check the password's strength and escrow a fresh vault secret behind it."""
    from coffer.unlock import VaultNotConfigured, VaultTarget, vault_route
    from coffer.unlock.secrets import normalise_password
    from coffer.unlock.strength import account_hints, check_strength

    if not vault or not account:
        raise VaultNotConfigured("a password needs a key vault: give vault= and account=")
    target = VaultTarget(vault, account, vault_key)
    check_strength(password, account_hints(account))
    vault_route.check_vault(target)
    return vault_route.escrow_new_secret(target, normalise_password(password))


def _first_record(repo: engine.Repository, target: unlock.VaultTarget) -> None:
    """Start this device's freshness record with the new repository, as ``coffer init`` does."""
    from coffer.engine.repository import list_slots
    from coffer.freshness.guard import FreshnessOptions, guard
    from coffer.freshness.witness_link import link_for

    link = link_for(repo, list_slots(repo.backend), target, None)
    guard(repo, FreshnessOptions(witness=link, say_protection=True))
