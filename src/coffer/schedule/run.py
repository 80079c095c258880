"""The scheduled run (``coffer schedule run NAME``): what a timer, cron or launchd executes.

Rules:

- Unattended: nobody is asked anything. The key is the one ``--remember`` kept; on a server
  the run also reads systemd credentials (``$CREDENTIALS_DIRECTORY/coffer-recovery-key`` or
  ``…/coffer-password``), never a password from the command line or the environment. A password
  goes through the stale-password guard like any unattended input (exit code 16 rather than a
  second guess).
- One run per job at a time on this device: a second one waits up to ``wait`` seconds for the
  first (an advisory ``flock`` on the job's lock file), then skips with a message and exit code
  0 (the job *is* being done). Across devices the repository's own lock keeps writers apart.
- Storage errors a retry may cure (:class:`~coffer.backends.base.TransientError`) and a lock
  held by another client (:class:`~coffer.errors.RepositoryLocked`) are retried ``retries``
  times, the delay doubling from ``retry_delay``; anything else ends the run at once.
- After the backup, the job's forget policy is applied to this device's snapshots only (and
  ``prune`` if asked). The result is one line on stderr — systemd puts it in the journal; under
  cron or launchd it also goes to syslog — and the job's status file.
- Exit codes: 0 done (or skipped), 3 done but some files were unreadable, otherwise the code
  of the error class (README's table); the status file records the same.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from coffer.backends.base import TransientError
from coffer.errors import CofferError, PartialBackup, RepositoryLocked, WrongKey
from coffer.paths import private_dir
from coffer.schedule import status
from coffer.schedule.report import human_size
from coffer.schedule.spec import Job
from coffer.unlock.secrets import SecretSource, StaticSecrets

if TYPE_CHECKING:
    from coffer.backends.base import Backend
    from coffer.engine.repository import Repository

Say = Callable[[str], None]
T = TypeVar("T")
CREDENTIAL_RECOVERY_KEY = "coffer-recovery-key"
CREDENTIAL_PASSWORD = "coffer-password"  # noqa: S105 - a credential's name


@dataclass
class RunSettings:
    """How one run behaves (the CLI's flags; the test suite shortens the waits)."""

    wait: float = 0.0
    random_delay: float = 0.0
    sleep: Callable[[float], None] = time.sleep
    open_backend: Callable[[str], Backend] | None = None  # tests wrap it in a FaultInjector


class AlreadyRunning(CofferError):
    """Another run of the same job holds the job's lock (the run is skipped, exit 0)."""

    exit_code = 0


@contextlib.contextmanager
def job_lock(job: Job, wait: float, sleep: Callable[[float], None]) -> Iterator[None]:
    """Hold the job's lock file for the block; :class:`AlreadyRunning` if it stays taken."""
    path = status.lock_path(job.name)
    private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
                    raise AlreadyRunning(
                        f"another run of job {job.name!r} is still in progress (pid {holder}); "
                        "skipped"
                    ) from None
                sleep(min(5.0, max(0.1, deadline - time.monotonic())))
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the flock


def on_battery(root: Path = Path("/sys/class/power_supply")) -> bool:
    """True when this Linux machine has a mains supply and none of them is online."""
    mains = []
    for supply in root.glob("*") if root.is_dir() else []:
        with contextlib.suppress(OSError):
            if (supply / "type").read_text().strip() == "Mains":
                mains.append((supply / "online").read_text().strip() == "1")
    return bool(mains) and not any(mains)


def unattended_secrets() -> SecretSource:
    """systemd credentials if the service has any; otherwise nothing (the remembered key)."""
    from coffer.unlock.secrets import OutsideSecrets

    folder = os.environ.get("CREDENTIALS_DIRECTORY")
    if folder:
        key, password = Path(folder) / CREDENTIAL_RECOVERY_KEY, Path(folder) / CREDENTIAL_PASSWORD
        return OutsideSecrets(
            recovery_key_file=key if key.is_file() else None,
            password_file=password if password.is_file() else None,
            environ={},
        )
    return StaticSecrets()


def _retrying(job: Job, settings: RunSettings, say: Say, step: Callable[[], T]) -> T:
    delay = job.retry_delay
    for attempt in range(job.retries + 1):
        try:
            return step()
        except (TransientError, RepositoryLocked) as exc:
            if attempt == job.retries:
                raise
            say(f"scheduled backup {job.name}: {exc}; retrying in {delay:.0f} s")
            settings.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")  # pragma: no cover


def _notice(message: str) -> None:
    """A freshness notice of an unattended run (a witness that is down): on stderr, which the
    timer's journal keeps; a rollback itself fails the run with exit code 20."""
    print(f"coffer: {message}", file=sys.stderr, flush=True)


def _backup_once(job: Job, settings: RunSettings) -> tuple[status.Success, str]:
    """Open, back up, forget: one attempt. Returns the status record and the result line."""
    from coffer.backends.registry import BackendOptions, open_backend
    from coffer.engine.locks import locked
    from coffer.freshness.guard import FreshnessOptions
    from coffer.ops.backup import BackupOptions, backup
    from coffer.unlock import NO_PROMPTER, NoSecret, open_repository
    from coffer.unlock.settings import VaultTarget, resolve

    started = time.monotonic()
    if settings.open_backend is not None:
        backend = settings.open_backend(job.repository)
    else:
        backend = open_backend(job.repository, BackendOptions.from_env())
    try:
        repo = open_repository(
            backend,
            unattended_secrets(),
            NO_PROMPTER,
            resolve(VaultTarget()),
            freshness=FreshnessOptions(notify=_notice),
        )
    except NoSecret:
        raise WrongKey(
            f"no remembered key opens {job.repository} on this device: run `coffer schedule "
            "install` again in a terminal (it remembers the key), or any command with --remember"
        ) from None
    options = BackupOptions(tags=list(job.tags))
    with locked(repo.repository):
        repo.repository.load_index()
        result = backup(repo.repository, [Path(s) for s in job.sources], options)
    forgotten = _forget(job, repo.repository, options.hostname)
    success = status.Success(
        time=time.time(), snapshot=result.snapshot.id, bytes_added=result.bytes_stored,
        files=result.files_new + result.files_changed + result.files_unchanged,
        seconds=round(time.monotonic() - started, 1), skipped_files=len(result.skipped),
        forgotten=forgotten,
    )  # fmt: skip
    return success, _ok_line(job, success)


def _forget(job: Job, repo: Repository, hostname: str) -> int:
    if not job.forgets():
        return 0
    from coffer.ops.forget import forget
    from coffer.ops.prune import PruneOptions, prune
    from coffer.ops.retention import Policy, parse_duration

    within = parse_duration(job.keep_within) if job.keep_within else None
    decisions = forget(repo, Policy(**job.keep, within=within), host=hostname)
    if job.prune:
        prune(repo, PruneOptions())
    return sum(len(d.remove) for d in decisions)


def _ok_line(job: Job, s: status.Success) -> str:
    line = (
        f"scheduled backup {job.name}: ok — snapshot {s.snapshot[:8]}, added "
        f"{human_size(s.bytes_added)} ({s.files} file{'s' if s.files != 1 else ''}) in "
        f"{s.seconds:.1f} s"
    )
    if s.forgotten:
        line += f"; forgot {s.forgotten} old snapshot(s)"
    if s.skipped_files:
        line += f"; {s.skipped_files} source(s) could not be read (listed in the snapshot)"
    return line


def run_job(job: Job, settings: RunSettings, say: Say) -> int:
    """Run ``job`` once; say one result line; record it; return the exit code."""
    try:
        with job_lock(job, settings.wait, settings.sleep):
            if job.on_ac_power and on_battery():
                status.record_skip(job.name, job.repository, "on battery power")
                say(f"scheduled backup {job.name}: skipped, on battery power")
                return 0
            if settings.random_delay > 0:
                settings.sleep(random.uniform(0, settings.random_delay))
            success, line = _retrying(job, settings, say, lambda: _backup_once(job, settings))
    except AlreadyRunning as exc:
        status.record_skip(job.name, job.repository, str(exc))
        say(f"scheduled backup {job.name}: {exc}")
        return 0
    except CofferError as exc:
        code = exc.exit_code if not isinstance(exc, PartialBackup) else 3
        status.record_failure(job.name, job.repository, status.Failure(time.time(), code, str(exc)))
        say(f"scheduled backup {job.name}: FAILED (exit code {code}): {exc}")
        return code
    status.record_success(job.name, job.repository, success)
    say(line)
    return 3 if success.skipped_files else 0


def report(line: str) -> None:
    """One result line: stderr (systemd's journal when run by a unit) and, under cron or
    launchd, syslog as well (journald reads syslog on systemd machines)."""
    import sys

    print(f"coffer: {line}", file=sys.stderr, flush=True)
    if not os.environ.get("JOURNAL_STREAM"):
        import syslog

        syslog.openlog("coffer", syslog.LOG_PID, syslog.LOG_USER)
        syslog.syslog(syslog.LOG_ERR if "FAILED" in line else syslog.LOG_INFO, line)
        syslog.closelog()
