"""Two processes writing from one device never stamp two objects with one counter (review Q2).

A twin counter let the provider hide the newest snapshot unnoticed (its twin "accounted" for
the counter) and, with a witness, made every device refuse with exit 20 although nothing was
rolled back. The device's writer lock serialises choosing a counter and storing the object.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from engine.cli_support import run_cli

from coffer.engine.snapshot import Snapshot
from coffer.freshness.clock import DeviceClock
from coffer.freshness.record import RecordStore

from .support import refused


def _clock(store: RecordStore, writer: str, listed: dict[str, int]) -> DeviceClock:
    return DeviceClock(store, writer, 0, lambda: dict(listed))


def test_a_second_writer_on_the_device_waits_and_takes_the_next_counter(tmp_path: Path) -> None:
    store = RecordStore(b"\x01" * 32, tmp_path / "freshness")
    with store.update() as record:
        writer = record.writer
    listed: dict[str, int] = {}  # neither process sees the other's object in its listing
    first, second = _clock(store, writer, listed), _clock(store, writer, listed)
    a = first.next_seq()
    got: list[int] = []
    waiter = threading.Thread(target=lambda: got.append(second.next_seq()))
    waiter.start()
    waiter.join(0.5)
    assert waiter.is_alive() and got == []  # blocked on the device's writer lock
    snap = Snapshot(
        "2026-12-01T00:00:00Z", "phone", "u", ["/x"], id="aa" * 32, writer=writer, seq=a
    )
    first.saved(snap)  # stored: the counter is committed, the lock released
    waiter.join(10)
    assert got == [a + 1]
    second.abandon()  # its store failed: nothing is committed, the lock is free again
    third = _clock(store, writer, listed)
    assert third.next_seq() == a + 1
    third.abandon()


def test_concurrent_backups_on_one_device_get_distinct_counters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, key = tmp_path / "repo", tmp_path / "key.txt"
    env = dict(os.environ, COFFER_STATE_DIR=str(tmp_path / "state"), COFFER_REPO=str(repo))
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert run_cli(capsys, "init", "--save-recovery-key", str(key)).code == 0
    env["COFFER_RECOVERY_KEY"] = key.read_text().strip()
    monkeypatch.setenv("COFFER_RECOVERY_KEY", env["COFFER_RECOVERY_KEY"])
    for n in range(2):
        (tmp_path / f"s{n}").mkdir()
    for day in range(3):
        procs = []
        for n in range(2):
            (tmp_path / f"s{n}" / "chat.txt").write_text(f"day {day} source {n}")
            cmd = [sys.executable, "-m", "coffer", "backup", "-q", str(tmp_path / f"s{n}")]
            procs.append(subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True))
        for p in procs:
            _out, err = p.communicate(timeout=300)
            assert p.returncode == 0, err
    from coffer.backends.local import LocalBackend
    from coffer.crypto.recovery import RecoveryKey
    from coffer.crypto.slots import SlotKind
    from coffer.engine.repository import Repository

    opened = Repository.open(
        LocalBackend(repo), SlotKind.RECOVERY, RecoveryKey.parse(env["COFFER_RECOVERY_KEY"]).secret
    )
    snaps = opened.list_manifests().snapshots.values()
    counters = [(s.writer, s.seq) for s in snaps]
    assert len(counters) == 6 and len(set(counters)) == 6, sorted(counters)
    newest = max(snaps, key=lambda s: s.seq)
    os.remove(repo / "snapshots" / newest.id)  # the provider hides the newest one
    r = run_cli(capsys, "snapshots")
    assert refused(r), (r.code, r.err)
