"""Installing, inspecting and removing a job's scheduler files.

Rules:

- Modes: ``systemd`` — a user service and timer in ``$XDG_CONFIG_HOME/systemd/user`` (default
  ``~/.config/systemd/user``), enabled with ``systemctl --user enable --now``; ``cron`` — one
  line in the user's crontab (``crontab -l`` / ``crontab -``), or in the file the job names
  (``crontab_file``: lines in user-crontab format, for a file you feed to cron yourself);
  ``launchd`` — an agent in ``~/Library/LaunchAgents`` loaded with ``launchctl bootstrap
  gui/UID``; ``none`` — the job only, for a scheduler of your own (a system unit on a server).
  :func:`detect_mode` picks launchd on macOS, systemd where systemd runs, else cron.
- ``enable=False`` writes the files and stops there (no ``systemctl``/``launchctl``): for a
  machine whose scheduler is not running now, and for the tests.
- A scheduler command that fails is :class:`SchedulerUnavailable` with its first line of error
  output; files already written stay, and ``remove`` cleans them.
- Crontab editing keeps every other line byte for byte; the job's line carries the marker
  ``# coffer-schedule:NAME``, by which it is replaced or removed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from coffer.errors import UsageError
from coffer.paths import write_private
from coffer.schedule import render
from coffer.schedule.spec import Job

MODES = ("systemd", "cron", "launchd", "none")


class SchedulerUnavailable(UsageError):
    """The chosen scheduler cannot be used here (not installed, not running, refused)."""


@dataclass
class Installed:
    """What an install wrote and whether the scheduler has it active."""

    mode: str
    files: list[str] = field(default_factory=list)
    enabled: bool = False
    notes: list[str] = field(default_factory=list)


def detect_mode(systemd_run_dir: Path = Path("/run/systemd/system")) -> str:
    """The scheduler ``--mode auto`` means here (systemd's own test for a running systemd is
    ``/run/systemd/system``; the argument exists for the tests)."""
    if sys.platform == "darwin":
        return "launchd"
    if systemd_run_dir.is_dir() and shutil.which("systemctl"):
        return "systemd"
    if shutil.which("crontab"):
        return "cron"
    raise SchedulerUnavailable(
        "found neither a running systemd nor cron here: give --mode systemd|cron|launchd with "
        "--no-enable to write the files only"
    )


def check_usable(mode: str, enable: bool, crontab_file: Path | None) -> None:
    """Refuse a scheduler that cannot work here — before the key is remembered or a file
    written (``systemctl --user`` needs a running user manager, and so on)."""
    if mode == "systemd" and enable:
        _command(["systemctl", "--user", "show-environment"], hint=_SYSTEMD_HINT)
    elif mode == "launchd" and enable and shutil.which("launchctl") is None:
        raise SchedulerUnavailable("`launchctl` is not available here; add --no-enable")
    elif mode == "cron" and crontab_file is None and shutil.which("crontab") is None:
        raise SchedulerUnavailable(
            "`crontab` is not installed here (Debian: apt-get install cron), or give --crontab-file"
        )


_SYSTEMD_HINT = (
    "; systemd's user manager is not running for this session: log in normally (or run "
    "`loginctl enable-linger $USER`), use --mode cron, or add --no-enable to only write the units"
)


def systemd_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "systemd" / "user"


def launchd_dir() -> Path:
    return Path.home() / "Library" / "LaunchAgents"


def _command(argv: list[str], stdin: str | None = None, hint: str = "") -> str:
    """Run a scheduler command; its stdout, or SchedulerUnavailable with its complaint."""
    if shutil.which(argv[0]) is None:
        raise SchedulerUnavailable(f"`{argv[0]}` is not installed here")
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        first = (done.stderr or done.stdout).strip().splitlines()[:1]
        raise SchedulerUnavailable(
            f"`{' '.join(argv)}` failed: {first[0] if first else f'exit code {done.returncode}'}"
            + hint
        )
    return done.stdout


def systemd_paths(job: Job) -> tuple[Path, Path]:
    name = render.unit_name(job)
    return systemd_dir() / f"{name}.service", systemd_dir() / f"{name}.timer"


def launchd_path(job: Job) -> Path:
    return launchd_dir() / f"{render.launchd_label(job)}.plist"


def log_path(job: Job) -> Path:
    from coffer.paths import state_dir

    return state_dir() / "schedule" / f"{job.name}.log"


def install(job: Job, enable: bool = True) -> Installed:
    """Write (and, with ``enable``, activate) the job's scheduler files."""
    if job.mode == "systemd":
        return _install_systemd(job, enable)
    if job.mode == "cron":
        return _install_cron(job)
    if job.mode == "launchd":
        return _install_launchd(job, enable)
    if job.mode == "none":
        note = f"no scheduler files: run `coffer schedule run {job.name}` from your own scheduler"
        return Installed("none", notes=[note])
    raise UsageError(f"unknown scheduler {job.mode!r}: use one of {', '.join(MODES)}")


def _install_systemd(job: Job, enable: bool) -> Installed:
    service, timer = systemd_paths(job)
    write_private(service, render.systemd_service(job, render.run_argv(job)).encode())
    write_private(timer, render.systemd_timer(job).encode())
    done = Installed("systemd", [str(service), str(timer)])
    if enable:
        _command(["systemctl", "--user", "daemon-reload"])
        _command(["systemctl", "--user", "enable", "--now", timer.name])
        done.enabled = True
    else:
        done.notes.append(f"not enabled: run `systemctl --user enable --now {timer.name}`")
    return done


def read_crontab(crontab_file: Path | None) -> str:
    if crontab_file is not None:
        try:
            return crontab_file.read_text("utf-8")
        except FileNotFoundError:
            return ""
    if shutil.which("crontab") is None:
        raise SchedulerUnavailable("`crontab` is not installed here")
    done = subprocess.run(["crontab", "-l"], capture_output=True, text=True, check=False)
    return done.stdout if done.returncode == 0 else ""  # "no crontab for USER" → empty


def write_crontab(text: str, crontab_file: Path | None) -> None:
    if crontab_file is not None:
        write_private(crontab_file, text.encode("utf-8"))
    else:
        _command(["crontab", "-"], stdin=text)


def without_job(text: str, name: str) -> str:
    marker = f"{render.CRON_MARKER}{name}"
    kept = [line for line in text.splitlines() if not line.rstrip().endswith(marker)]
    return "".join(line + "\n" for line in kept)


def _crontab_file(job: Job) -> Path | None:
    return Path(job.crontab_file) if job.crontab_file else None


def crontab_where(job: Job) -> str:
    return job.crontab_file or "the user's crontab (crontab -l)"


def _install_cron(job: Job) -> Installed:
    line = render.cron_line(job, render.run_argv(job, self_delay=True))
    crontab_file = _crontab_file(job)
    write_crontab(without_job(read_crontab(crontab_file), job.name) + line + "\n", crontab_file)
    return Installed("cron", [crontab_where(job)], enabled=True)


def _install_launchd(job: Job, enable: bool) -> Installed:
    path = launchd_path(job)
    argv = render.run_argv(job, self_delay=True)
    write_private(path, render.launchd_plist(job, argv, str(log_path(job))))
    done = Installed("launchd", [str(path)])
    if enable:
        _command(["launchctl", "bootstrap", f"gui/{os.getuid()}", str(path)])
        done.enabled = True
    else:
        done.notes.append(f"not loaded: run `launchctl bootstrap gui/$(id -u) {path}`")
    return done


def uninstall(job: Job) -> list[str]:
    """Deactivate and delete the job's scheduler files (what is missing is skipped)."""
    removed: list[str] = []
    if job.mode == "systemd":
        service, timer = systemd_paths(job)
        if shutil.which("systemctl") and Path("/run/systemd/system").is_dir():
            subprocess.run(
                ["systemctl", "--user", "disable", "--now", timer.name],
                capture_output=True, check=False,
            )  # fmt: skip
        removed += [str(p) for p in (service, timer) if _unlink(p)]
    elif job.mode == "cron":
        before = read_crontab(_crontab_file(job))
        after = without_job(before, job.name)
        if after != before:
            write_crontab(after, _crontab_file(job))
            removed.append(crontab_where(job))
    elif job.mode == "launchd":
        path = launchd_path(job)
        if shutil.which("launchctl"):
            subprocess.run(
                ["launchctl", "bootout", f"gui/{os.getuid()}", str(path)],
                capture_output=True, check=False,
            )  # fmt: skip
        removed += [str(path)] if _unlink(path) else []
    return removed


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def installed_files(job: Job) -> list[str]:
    """Which of the job's scheduler files exist now (for ``schedule status``)."""
    if job.mode == "systemd":
        return [str(p) for p in systemd_paths(job) if p.exists()]
    if job.mode == "launchd":
        return [str(p) for p in (launchd_path(job),) if p.exists()]
    try:
        text = read_crontab(_crontab_file(job))
    except SchedulerUnavailable:
        return []
    marker = f"{render.CRON_MARKER}{job.name}"
    return [crontab_where(job)] if marker in text else []


def timer_state(job: Job) -> str | None:
    """systemd's view of the timer (``active``, ``inactive``…), or None where it cannot say."""
    if job.mode != "systemd" or not Path("/run/systemd/system").is_dir():
        return None
    if shutil.which("systemctl") is None:
        return None
    name = systemd_paths(job)[1].name
    done = subprocess.run(
        ["systemctl", "--user", "is-active", name],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return done.stdout.strip() or None
