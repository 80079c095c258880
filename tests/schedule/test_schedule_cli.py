"""``coffer schedule install|status|remove|run`` and ``coffer status``, into a temporary HOME:
systemd units systemd-analyze accepts, a cron line in cron mode, a launchd agent as text; the
service's own command line, run here, makes a backup and updates ``status``."""

from __future__ import annotations

import json
import os
import plistlib
import subprocess
from pathlib import Path

import pytest
from engine.cli_support import run_cli

from coffer.schedule import spec

from .conftest import Home
from .support import exec_start, unit_environment, verify


def _install(capsys, home: Home, *extra: str):
    return run_cli(
        capsys, "schedule", "install", "--repo", str(home.repo), "--recovery-key-file",
        str(home.key_file), *extra, str(home.source),
    )  # fmt: skip


def _run_as_the_scheduler(argv: list[str], env: dict[str, str], home: Home):
    """Run a scheduler's command line the way the scheduler would: no terminal, its own
    environment (HOME and PATH, plus what the unit sets) — nothing inherited from this test."""
    clean = {"HOME": str(home.root), "PATH": os.environ["PATH"], **env}
    return subprocess.run(argv, env=clean, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, check=False)  # fmt: skip


def test_systemd_install_status_run_remove_round_trip(
    home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    r = _install(capsys, home, "--mode", "systemd", "--no-enable", "--daily", "03:30",
                 "--forget-keep-daily", "7", "--randomized-delay", "20")  # fmt: skip
    assert r.code == 0, r.err
    assert "remembered the key" in r.err and "daily at 03:30 (systemd)" in r.out
    service = home.units / "coffer-backup-default.service"
    timer = home.units / "coffer-backup-default.timer"
    for path in (service, timer, *(home.root / ".config" / "coffer" / "schedules").iterdir()):
        text = path.read_text()
        assert home.key_file.read_text().strip() not in text and "recovery" not in text

    job = spec.load("default")  # the flags became the job
    assert job.keep == {"daily": 7} and job.randomized_delay_min == 20 and job.mode == "systemd"
    r = run_cli(capsys, "schedule", "status", "--json")
    [row] = json.loads(r.out)
    assert row["files"] == [str(service), str(timer)] and row["last_run"] is None
    assert row["command"] == exec_start(service.read_text())
    r = run_cli(capsys, "status", "--max-age", "36h")
    assert r.code == 19 and "no successful backup recorded" in r.err

    # the timer's service, run by hand: its command line and environment only
    done = _run_as_the_scheduler(exec_start(service.read_text()),
                                 unit_environment(service.read_text()), home)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "scheduled backup default: ok — snapshot" in done.stderr
    assert done.stderr.count("\n") == 1
    r = run_cli(capsys, "snapshots", "--repo", str(home.repo), "--recovery-key-file",
                str(home.key_file), "--json")  # fmt: skip
    [snap] = json.loads(r.out)
    r = run_cli(capsys, "status", "--json", "--max-age", "36h")
    assert r.code == 0, r.err
    [row] = json.loads(r.out)
    assert row["last_success"]["snapshot"] == snap["id"] and row["last_success"]["bytes_added"] > 0
    assert row["last_failure"] is None and row["next_run"][11:16] == "03:30"
    r = run_cli(capsys, "status")
    assert "last success:" in r.out and snap["id"][:8] in r.out and "next run:" in r.out
    assert f"ago), snapshot {snap['id'][:8]}, added " in r.out  # its time, age and bytes added

    r = run_cli(capsys, "schedule", "remove")
    assert r.code == 0 and "removed scheduled backup 'default'" in r.out
    assert not service.exists() and not timer.exists()
    assert json.loads(run_cli(capsys, "schedule", "status", "--json").out) == []
    assert run_cli(capsys, "status", "--max-age", "1d").code == 19
    assert run_cli(capsys, "schedule", "remove").code == 2  # nothing left to remove


def test_installed_units_are_accepted_by_systemd_analyze(
    home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    """Apart from the round trip above, so a machine without systemd-analyze skips only this."""
    r = _install(capsys, home, "--mode", "systemd", "--no-enable", "--weekly", "sun", "04:00",
                 "--on-ac-power", "--randomized-delay", "20")  # fmt: skip
    assert r.code == 0, r.err
    verify(home.units / "coffer-backup-default.service", home.units / "coffer-backup-default.timer")


def test_cron_mode_writes_one_marked_line_and_keeps_the_others(
    home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    crontab = home.root / "crontab"
    crontab.write_text("MAILTO=me@example.net\n17 4 * * * /usr/bin/true # mine\n")
    r = _install(
        capsys, home, "--crontab-file", str(crontab), "--hourly", "--randomized-delay", "5"
    )
    assert r.code == 0, r.err
    r = _install(capsys, home, "--crontab-file", str(crontab), "--weekly", "sun", "04:45")
    assert r.code == 0, r.err  # installing again replaces the job's line
    lines = crontab.read_text().splitlines()
    assert lines[:2] == ["MAILTO=me@example.net", "17 4 * * * /usr/bin/true # mine"]
    [ours] = [line for line in lines if line.endswith("# coffer-schedule:default")]
    assert len(lines) == 3 and ours.startswith("45 4 * * 0 ")
    assert "schedule run default" in ours and "recovery" not in ours

    # run the line's command as cron would: through /bin/sh, without a terminal
    command = ours.split(" ", 5)[5].removesuffix(" # coffer-schedule:default").replace("\\%", "%")
    done = _run_as_the_scheduler(["/bin/sh", "-c", command], {}, home)
    assert done.returncode == 0 and "ok — snapshot" in done.stderr, done.stderr

    r = run_cli(capsys, "schedule", "remove", "default")
    assert r.code == 0, r.err
    assert crontab.read_text().splitlines() == lines[:2]


def test_launchd_mode_writes_an_agent(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    r = _install(capsys, home, "--mode", "launchd", "--no-enable", "--name", "phone",
                 "--weekly", "mon", "01:05")  # fmt: skip
    assert r.code == 0, r.err
    path = home.root / "Library" / "LaunchAgents" / "net.coffer.backup.phone.plist"
    plist = plistlib.loads(path.read_bytes())
    assert plist["ProgramArguments"][-3:] == ["schedule", "run", "phone"]
    assert plist["StartCalendarInterval"] == {"Hour": 1, "Minute": 5, "Weekday": 1}
    assert run_cli(capsys, "schedule", "remove", "phone").code == 0 and not path.exists()


def test_install_refuses_bad_timing_before_touching_anything(
    home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    for bad in (["--daily", "25:00"], ["--weekly", "someday", "02:00"], ["--name", "Bad Name"],
                ["--daily", "02:00", "--hourly"]):  # fmt: skip
        r = _install(capsys, home, "--mode", "systemd", "--no-enable", *bad)
        assert r.code == 2 and r.err.count("\n") == 1, r.err
    assert (
        not home.units.exists() and not (home.root / ".config" / "coffer" / "remembered").exists()
    )


def test_auto_mode_falls_back_to_cron_where_systemd_is_not_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from coffer.schedule import install

    tools = {"systemctl", "crontab"}
    monkeypatch.setattr(install.shutil, "which", lambda name: name if name in tools else None)
    monkeypatch.setattr(install.sys, "platform", "linux")
    running = tmp_path / "run-systemd-system"
    running.mkdir()
    assert install.detect_mode(running) == "systemd"
    assert install.detect_mode(tmp_path / "absent") == "cron"  # systemd installed, not running
    tools.discard("crontab")
    with pytest.raises(install.SchedulerUnavailable, match="neither a running systemd nor cron"):
        install.detect_mode(tmp_path / "absent")
    monkeypatch.setattr(install.sys, "platform", "darwin")
    assert install.detect_mode(running) == "launchd"
