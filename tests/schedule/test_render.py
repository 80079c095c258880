"""The scheduler files as text: systemd units (checked by systemd-analyze), cron lines, launchd
plists; quoting of awkward paths; the next-run computation."""

from __future__ import annotations

import plistlib
import shlex
from datetime import datetime
from pathlib import Path

import pytest

from coffer.errors import UsageError
from coffer.schedule import render
from coffer.schedule.spec import Job, When

from .support import exec_start, systemd_values, unit_environment, verify

AWKWARD = '/home/o\'neil/100% $HOME "chats"'


def _job(**kw: object) -> Job:
    base: dict[str, object] = {"name": "default", "repository": "/backups/chats",
                               "sources": ("/home/a/chats",)}  # fmt: skip
    return Job(**{**base, **kw})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("when", "calendar", "cron"),
    [
        (When("daily", 2, 0), "*-*-* 02:00:00", "0 2 * * *"),
        (When("hourly", minute=0), "*-*-* *:00:00", "0 * * * *"),
        (When("weekly", 3, 15, 6), "Sun *-*-* 03:15:00", "15 3 * * 0"),
        (When("weekly", 23, 59, 0), "Mon *-*-* 23:59:00", "59 23 * * 1"),
    ],
)
def test_timings_in_each_format(when: When, calendar: str, cron: str) -> None:
    job = _job(when=when)
    assert render.on_calendar(job) == calendar and render.cron_schedule(job) == cron
    plist = plistlib.loads(render.launchd_plist(job, ["/usr/bin/python3"], "/tmp/log"))
    interval = plist["StartCalendarInterval"]
    assert interval["Minute"] == when.minute
    assert interval.get("Hour") == (None if when.kind == "hourly" else when.hour)
    assert interval.get("Weekday") == (None if when.kind != "weekly" else int(cron.split()[4]))


def test_systemd_units_are_accepted_by_systemd_analyze(tmp_path: Path) -> None:
    env = {"COFFER_CONFIG": f"{AWKWARD}/config.toml", "XDG_DATA_HOME": "/home/a/.local/share"}
    job = _job(repository=AWKWARD, when=When("weekly", 3, 15, 6), on_ac_power=True,
               randomized_delay_min=45, environment=env)  # fmt: skip
    argv = render.run_argv(job)
    service, timer = (
        tmp_path / "coffer-backup-default.service",
        tmp_path / "coffer-backup-default.timer",
    )
    service.write_text(render.systemd_service(job, argv))
    timer.write_text(render.systemd_timer(job))
    verify(service, timer)
    text = service.read_text()
    assert exec_start(text) == argv and unit_environment(text) == env
    assert systemd_values(text, "ConditionACPower") == ["true"]
    assert systemd_values(timer.read_text(), "RandomizedDelaySec") == ["45min"]
    assert systemd_values(timer.read_text(), "Persistent") == ["true"]


def test_cron_line_quotes_and_escapes_percent() -> None:
    job = _job(name="phone", randomized_delay_min=10, environment={"COFFER_CONFIG": AWKWARD})
    line = render.cron_line(job, render.run_argv(job, python="/usr/bin/python3", self_delay=True))
    fields = line.split(" ", 5)
    assert fields[:5] == ["0", "2", "*", "*", "*"]
    assert line.endswith(" # coffer-schedule:phone")
    command = fields[5].removesuffix(" # coffer-schedule:phone")
    words = shlex.split(command.replace("\\%", "%"))  # cron turns \% into %, then runs sh
    assert words == [f"COFFER_CONFIG={AWKWARD}", "/usr/bin/python3", "-m", "coffer", "schedule",
                     "run", "phone", "--random-delay", "600"]  # fmt: skip
    assert "%" not in command.replace("\\%", "")  # no bare % (cron's newline)


def test_launchd_plist_runs_the_same_command() -> None:
    job = _job(environment={"HOME_EXTRA": "x"})
    argv = render.run_argv(job, self_delay=True)
    plist = plistlib.loads(render.launchd_plist(job, argv, "/Users/a/coffer.log"))
    assert plist["Label"] == "net.coffer.backup.default" and plist["ProgramArguments"] == argv
    assert plist["EnvironmentVariables"] == {"HOME_EXTRA": "x"}
    assert plist["StandardErrorPath"] == "/Users/a/coffer.log"


def test_control_characters_are_refused() -> None:
    job = _job(repository="/backups/evil\nExecStart=/bin/sh")
    with pytest.raises(UsageError, match="control character"):
        render.systemd_service(job, render.run_argv(job))


def test_next_run() -> None:
    now = datetime(2026, 12, 1, 16, 30)  # a Tuesday
    assert When("daily", 2, 0).next_after(now) == datetime(2026, 12, 2, 2, 0)
    assert When("daily", 17, 0).next_after(now) == datetime(2026, 12, 1, 17, 0)
    assert When("hourly", minute=0).next_after(now) == datetime(2026, 12, 1, 17, 0)
    assert When("weekly", 3, 0, 6).next_after(now) == datetime(2026, 12, 6, 3, 0)
    assert When("weekly", 17, 0, 1).next_after(now) == datetime(2026, 12, 1, 17, 0)
    assert When("weekly", 16, 0, 1).next_after(now) == datetime(2026, 12, 8, 16, 0)
