"""The scheduler files of a job, as text: systemd user units, a crontab line, a launchd agent.

Rules:

- Pure functions of the :class:`~coffer.schedule.spec.Job` and the command line that runs it
  (:func:`run_argv`); nothing here touches the file system, so every format is tested as text,
  including launchd's on machines without launchd.
- The command line is ``<this Python> -m coffer schedule run NAME`` — an absolute interpreter
  path, no shell, and never a secret: the run opens the repository with the remembered key.
  The installing shell's Coffer/XDG variables go into the unit's ``Environment=``, the cron
  line's assignments or the agent's ``EnvironmentVariables``.
- Quoting: systemd command lines and ``Environment=`` values are double-quoted with ``\\``,
  ``"`` and ``%`` (specifiers) escaped, and ``$`` (variables) in command lines; cron fields are
  shell-quoted and ``%`` (cron's newline) escaped. Values with control characters are refused.
- Randomised delay: systemd's ``RandomizedDelaySec=``; cron and launchd have none, so their
  command line gets ``--random-delay SECONDS`` and the run sleeps itself. "On AC power":
  systemd's ``ConditionACPower=true``; elsewhere the run checks (Linux sysfs) and skips.
"""

from __future__ import annotations

import plistlib
import shlex
import sys

from coffer.errors import UsageError
from coffer.schedule.spec import DAYS, Job

CRON_MARKER = "# coffer-schedule:"
_SYSTEMD_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def unit_name(job: Job) -> str:
    return f"coffer-backup-{job.name}"


def launchd_label(job: Job) -> str:
    return f"net.coffer.backup.{job.name}"


def run_argv(job: Job, python: str | None = None, self_delay: bool = False) -> list[str]:
    """The command a scheduler runs for ``job``."""
    argv = [python or sys.executable, "-m", "coffer", "schedule", "run", job.name]
    if self_delay and job.randomized_delay_min:
        argv += ["--random-delay", str(job.randomized_delay_min * 60)]
    return argv


def _plain(value: str) -> str:
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise UsageError(f"cannot put {value!r} in a scheduler file (control character)")
    return value


def _systemd_quote(value: str, command: bool = True) -> str:
    """A double-quoted systemd value; ``$`` is doubled only in command lines (``Environment=``
    does no variable expansion), ``%`` everywhere (specifiers)."""
    escaped = _plain(value).replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    return '"' + (escaped.replace("$", "$$") if command else escaped) + '"'


def on_calendar(job: Job) -> str:
    w = job.when
    if w.kind == "hourly":
        return f"*-*-* *:{w.minute:02d}:00"
    day = f"{_SYSTEMD_DAYS[w.weekday]} " if w.kind == "weekly" else ""
    return f"{day}*-*-* {w.hour:02d}:{w.minute:02d}:00"


def systemd_service(job: Job, argv: list[str]) -> str:
    lines = [
        "[Unit]",
        f"Description=Coffer backup {job.name} of {_plain(job.repository).replace('%', '%%')}",
        "After=network-online.target",
        "Wants=network-online.target",
    ]
    if job.on_ac_power:
        lines.append("ConditionACPower=true")
    lines += ["", "[Service]", "Type=oneshot"]
    env = job.environment.items()
    lines += [f"Environment={_systemd_quote(f'{k}={v}', command=False)}" for k, v in env]
    lines += [
        "ExecStart=" + " ".join(_systemd_quote(a) for a in argv),
        "Nice=10",
        "IOSchedulingClass=idle",
        "",
    ]
    return "\n".join(lines)


def systemd_timer(job: Job) -> str:
    lines = [
        "[Unit]",
        f"Description=Coffer backup {job.name}, {job.when.describe()}",
        "",
        "[Timer]",
        f"OnCalendar={on_calendar(job)}",
        "Persistent=true",
    ]
    if job.randomized_delay_min:
        lines.append(f"RandomizedDelaySec={job.randomized_delay_min}min")
    lines += ["", "[Install]", "WantedBy=timers.target", ""]
    return "\n".join(lines)


def cron_schedule(job: Job) -> str:
    w = job.when
    if w.kind == "hourly":
        return f"{w.minute} * * * *"
    day = str((w.weekday + 1) % 7) if w.kind == "weekly" else "*"  # cron: 0 = Sunday
    return f"{w.minute} {w.hour} * * {day}"


def cron_line(job: Job, argv: list[str]) -> str:
    """One crontab line (``m h dom mon dow command``) ending with the job's marker comment."""
    env = [f"{k}={shlex.quote(_plain(v))}" for k, v in job.environment.items()]
    command = " ".join([*env, *(shlex.quote(_plain(a)) for a in argv)]).replace("%", "\\%")
    return f"{cron_schedule(job)} {command} {CRON_MARKER}{job.name}"


def launchd_plist(job: Job, argv: list[str], log_path: str) -> bytes:
    w = job.when
    interval: dict[str, int] = {"Minute": w.minute}
    if w.kind != "hourly":
        interval["Hour"] = w.hour
    if w.kind == "weekly":
        interval["Weekday"] = (w.weekday + 1) % 7  # launchd: 0 (and 7) = Sunday
    doc = {
        "Label": launchd_label(job),
        "ProgramArguments": [_plain(a) for a in argv],
        "EnvironmentVariables": {k: _plain(v) for k, v in job.environment.items()},
        "StartCalendarInterval": interval,
        "StandardErrorPath": log_path,
        "StandardOutPath": log_path,
        "LowPriorityIO": True,
        "Nice": 10,
        "ProcessType": "Background",
    }
    return plistlib.dumps(doc, sort_keys=True)


__all__ = [
    "CRON_MARKER",
    "DAYS",
    "cron_line",
    "launchd_label",
    "launchd_plist",
    "on_calendar",
    "run_argv",
    "systemd_service",
    "systemd_timer",
    "unit_name",
]
