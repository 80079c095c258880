"""The scheduled run itself: one run per job at a time, transient storage errors and a locked
repository retried with backoff, the forget policy on this device's snapshots, failures
recorded with their reason, the password route through the remembered key only."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from engine.cli_support import run_cli

from coffer.backends.faults import FaultInjector
from coffer.backends.local import LocalBackend
from coffer.crypto.recovery import RecoveryKey
from coffer.crypto.slots import SlotKind
from coffer.engine.locks import locked
from coffer.engine.repository import Repository
from coffer.schedule import spec
from coffer.schedule import status as run_status
from coffer.schedule.run import RunSettings, job_lock, run_job
from coffer.schedule.spec import Job

from .conftest import Home


def _job(home: Home, **kw: object) -> Job:
    fields: dict[str, object] = {"name": "default", "repository": str(home.repo),
                                 "sources": (str(home.source),), "retry_delay": 1.0}  # fmt: skip
    job = Job(**{**fields, **kw})  # type: ignore[arg-type]
    spec.save(job)
    return job


def _remember(capsys, home: Home) -> None:
    r = run_cli(capsys, "snapshots", "--repo", str(home.repo), "--recovery-key-file",
                str(home.key_file), "--remember")  # fmt: skip
    assert r.code == 0, r.err


def _repo(home: Home) -> Repository:
    key = RecoveryKey.parse(home.key_file.read_text())
    return Repository.open(LocalBackend(home.repo), SlotKind.RECOVERY, key.secret)


def test_transient_storage_errors_are_retried_with_backoff(
    home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    _remember(capsys, home)
    job = _job(home, retries=3, retry_delay=2.0)
    injectors: list[FaultInjector] = []

    def flaky(address: str) -> FaultInjector:  # the first two attempts fail at their first call
        fails = {1} if len(injectors) < 2 else set()
        injectors.append(FaultInjector(LocalBackend(address), fail_calls=fails))
        return injectors[-1]

    slept: list[float] = []
    said: list[str] = []
    settings = RunSettings(sleep=slept.append, open_backend=flaky)
    assert run_job(job, settings, said.append) == 0
    assert slept == [2.0, 4.0] and len(injectors) == 3
    assert [s.count("retrying in") for s in said] == [1, 1, 0] and "ok — snapshot" in said[-1]
    assert run_status.last_success(run_status.load("default")) is not None


def test_too_many_transient_errors_fail_with_the_storage_code_and_keep_the_last_success(
    home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    _remember(capsys, home)
    job = _job(home, retries=1)
    assert run_job(job, RunSettings(sleep=lambda s: None), lambda s: None) == 0

    def broken(address: str) -> FaultInjector:
        return FaultInjector(LocalBackend(address), fail_rate=1.0)

    always = RunSettings(sleep=lambda s: None, open_backend=broken)
    said: list[str] = []
    assert run_job(job, always, said.append) == 14
    assert said[-1].startswith("scheduled backup default: FAILED (exit code 14):")
    doc = run_status.load("default")
    assert run_status.last_failure(doc).exit_code == 14  # type: ignore[union-attr]
    assert run_status.last_success(doc) is not None  # a failure never erases the last success
    r = run_cli(capsys, "status")
    assert r.out.index("last failure:") < r.out.index("last success:")  # what needs attention
    assert "ago), exit code 14: " in r.out  # the failure's time, age, code and reason
    [row] = json.loads(run_cli(capsys, "status", "--json").out)
    assert row["last_failure"]["exit_code"] == 14 and row["last_failure"]["reason"]


def test_a_repository_locked_by_another_client_is_waited_for(
    home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    _remember(capsys, home)
    job = _job(home, retries=2, retry_delay=5.0)
    other = _repo(home)
    holder = locked(other, exclusive=True)  # another device's prune, say
    holder.__enter__()

    def sleep_then_release(seconds: float) -> None:
        holder.__exit__(None, None, None)

    said: list[str] = []
    assert run_job(job, RunSettings(sleep=sleep_then_release), said.append) == 0
    assert "locked" in said[0] and "retrying in 5 s" in said[0] and "ok" in said[-1]


def test_a_second_run_of_the_same_job_skips_with_a_message(
    home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    _remember(capsys, home)
    job = _job(home)
    entered, leave = threading.Event(), threading.Event()

    def first() -> None:
        with job_lock(job, 0, lambda s: None):
            entered.set()
            leave.wait(30)

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert entered.wait(30)
        r = run_cli(capsys, "schedule", "run", "default")
        assert r.code == 0 and "still in progress" in r.err and "skipped" in r.err
        assert run_status.load("default")["last_run"]["result"] == "skipped"
    finally:
        leave.set()
        thread.join()
    assert run_cli(capsys, "schedule", "run", "default").code == 0  # the lock is free again


def test_forget_policy_applies_to_this_devices_snapshots_only(
    home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    _remember(capsys, home)
    key = ["--repo", str(home.repo), "--recovery-key-file", str(home.key_file), "-q"]
    for _ in range(2):
        assert run_cli(capsys, "backup", *key, "--host", "other-phone", str(home.source)).code == 0
    job = _job(home, keep={"last": 1})
    for _ in range(3):
        assert run_job(job, RunSettings(), lambda s: None) == 0
    snaps = json.loads(run_cli(capsys, "snapshots", *key, "--json").out)
    hosts = sorted(s["hostname"] for s in snaps)
    assert hosts.count("other-phone") == 2 and len(hosts) == 3  # ours: only the newest one left
    assert run_status.last_success(run_status.load("default")).forgotten == 1  # type: ignore[union-attr]


def test_without_a_remembered_key_the_run_fails_and_says_how_to_fix_it(
    home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    job = _job(home)
    said: list[str] = []
    assert run_job(job, RunSettings(), said.append) == 11
    assert "no remembered key" in said[0] and "coffer schedule install" in said[0]
    assert run_cli(capsys, "status", "--max-age", "36h").code == 19


def test_systemd_credentials_give_the_key_on_a_server(
    home: Home, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    creds = tmp_path / "credentials"
    creds.mkdir()
    (creds / "coffer-recovery-key").write_text(home.key_file.read_text())
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    monkeypatch.setenv("COFFER_RECOVERY_KEY", "not used: the run ignores the environment")
    assert run_job(_job(home), RunSettings(), lambda s: None) == 0


def test_on_battery_reads_the_mains_supplies(tmp_path: Path) -> None:
    from coffer.schedule.run import on_battery

    def supply(name: str, kind: str, online: str | None) -> None:
        (tmp_path / name).mkdir()
        (tmp_path / name / "type").write_text(kind + "\n")
        if online is not None:
            (tmp_path / name / "online").write_text(online + "\n")

    assert not on_battery(tmp_path / "absent")  # a server: no supplies listed → not on battery
    supply("BAT0", "Battery", None)
    assert not on_battery(tmp_path)  # no mains supply known: do not guess
    supply("AC", "Mains", "0")
    assert on_battery(tmp_path)
    supply("USB-C", "Mains", "1")
    assert not on_battery(tmp_path)


def test_on_ac_power_jobs_skip_on_battery(
    home: Home, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from coffer.schedule import run as run_module

    monkeypatch.setattr(run_module, "on_battery", lambda: True)  # this machine has no battery
    said: list[str] = []
    assert run_job(_job(home, on_ac_power=True), RunSettings(), said.append) == 0
    assert said == ["scheduled backup default: skipped, on battery power"]
    assert run_status.load("default")["last_run"]["reason"] == "on battery power"
