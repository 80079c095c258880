"""Property: two devices backing up, forgetting, pruning (some prunes SIGKILLed, some racing a
backup) never lose a blob a kept snapshot needs — and freshness (issue 12) never raises a false
alarm, while every rollback the provider injects is detected by each device that had seen
something the rolled-back state lacks.

After every step: ``check --read-data`` is clean, every kept snapshot restores to exactly
the files it was taken from, and both devices open the repository through the freshness check
(each with its own device record) without an alarm. The provider keeps a copy of
``snapshots/`` after every step and at random steps serves one of its last four: a device
must refuse exactly when an object it has seen (written, or listed when it opened) was
created after that copy.

Backups run in-process on a real local backend; a backup can "race" prune by running prune's
mark phase at the moment the backup has loaded its index (as a device that takes no lock
would); kill steps SIGKILL a real child process running prune
just before its K-th storage mutation.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from coffer.engine.progress import Progress
from coffer.engine.repository import Repository
from coffer.errors import FreshnessError
from coffer.freshness.guard import FreshnessOptions, guard
from coffer.ops.backup import BackupOptions, backup
from coffer.ops.check import check
from coffer.ops.forget import remove_with_record
from coffer.ops.prune import PruneOptions, prune
from coffer.ops.restore import restore
from coffer.ops.retention import Policy, apply_policy

from .conftest import digests, new_repo

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("lifecycle-property")]

KILLER = Path(__file__).with_name("killer.py")
DEVICES = ("dev-a", "dev-b")
_POOL_RNG = random.Random(99)
POOL = [b"OggS" + _POOL_RNG.randbytes(_POOL_RNG.randrange(10_000, 60_000)) for _ in range(8)]
POOL_HASHES = [hashlib.sha256(p).hexdigest() for p in POOL]
edits = st.lists(
    st.tuples(st.sampled_from(["add", "del", "mod"]), st.integers(0, 5), st.integers(0, 7)),
    min_size=1,
    max_size=3,
)


class _RacingPrune(Progress):
    def __init__(self, machine: TwoDevices) -> None:
        self.machine = machine

    def start(self, total_bytes: int, total_files: int, label: str = "") -> None:
        self.machine.run_prune(0.05)


class TwoDevices(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="coffer-two-devices-"))
        self.handle = new_repo(self.tmp / "repo")
        self.src = {d: self.tmp / d / "chats" for d in DEVICES}
        for path in self.src.values():
            path.mkdir(parents=True)
        self.expected: dict[str, dict[str, str]] = {}
        self.ever: set[str] = set()
        self.clock = time.time()
        self.mtime = 1_700_000_000 * 10**9
        self.restores = 0
        # freshness: each device's state folder, the objects it has seen, when objects appeared
        self.state = {d: self.tmp / d / "state" for d in DEVICES}
        self.seen: dict[str, set[str]] = {d: set() for d in DEVICES}
        self.created: dict[str, int] = {}
        self.step = 0
        self.copies: list[tuple[int, Path]] = []
        self.notices: list[str] = []

    def teardown(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- helpers ------------------------------------------------------------------------------
    def _objects(self) -> set[str]:
        folder = self.handle.path / "snapshots"
        return {p.name for p in folder.iterdir()} if folder.exists() else set()

    def open_as(self, device: str) -> Repository:
        """Open as ``device`` does: through the freshness check, with its own device record."""
        before = os.environ.get("COFFER_STATE_DIR")
        os.environ["COFFER_STATE_DIR"] = str(self.state[device])
        try:
            repo = self.handle.open()
            guard(repo, FreshnessOptions(notify=self.notices.append))
        finally:
            if before is None:
                del os.environ["COFFER_STATE_DIR"]
            else:
                os.environ["COFFER_STATE_DIR"] = before
        self.seen[device] |= self._objects()
        return repo

    def run_prune(self, max_unused: float) -> None:
        """Prune with a 1 h grace period on a clock that jumps 2 h per call."""
        self.clock += 7200
        opts = PruneOptions(grace=3600, max_unused=max_unused, clock=lambda: self.clock)
        report = prune(self.handle.open(), opts)
        if report.packs_rescued:
            event("sweep kept packs a racing backup needed")
        if report.packs_deleted:
            event("prune deleted packs")
        if report.blobs_repacked:
            event("prune repacked blobs")

    def _edit(self, device: str, changes: list[tuple[str, int, int]]) -> None:
        root = self.src[device]
        for op, i, j in changes:
            path = root / f"m{i}.bin"
            if op == "del":
                path.unlink(missing_ok=True)
                continue
            data = POOL[j] if op == "add" else POOL[j][: len(POOL[j]) // 2] + bytes([i]) * 999
            path.write_bytes(data)
            self.mtime += 1_000_000_007
            os.utime(path, ns=(self.mtime, self.mtime))

    def _backup(self, device: str, progress: Progress | None) -> None:
        result = backup(
            self.open_as(device), [self.src[device]], BackupOptions(hostname=device), progress
        )
        self.seen[device].add(result.snapshot.id)
        self.expected[result.snapshot.id] = {
            f"chats/{k}": v for k, v in digests(self.src[device]).items()
        }
        self.ever.update(self.expected[result.snapshot.id].values())

    # -- rules --------------------------------------------------------------------------------
    @initialize(first=st.permutations(range(8)))
    def both_devices_back_up(self, first: list[int]) -> None:
        for n, device in enumerate(DEVICES):
            self._edit(device, [("add", i, first[2 * n + i]) for i in range(3)])
            self._backup(device, None)

    @rule(device=st.sampled_from(DEVICES), changes=edits)
    def backup(self, device: str, changes: list[tuple[str, int, int]]) -> None:
        self._edit(device, changes)
        self._backup(device, None)

    @rule(
        device=st.sampled_from(DEVICES),
        changes=edits,
        revive=st.integers(0, 7),
        churn_first=st.booleans(),
        then_sweep=st.booleans(),
    )
    def backup_racing_prune(
        self,
        device: str,
        changes: list[tuple[str, int, int]],
        revive: int,
        churn_first: bool,
        then_sweep: bool,
    ) -> None:
        """The dangerous case: the backup re-adds content that was stored once but that no kept
        snapshot uses any more, so it deduplicates against blobs in packs that prune condemns
        while the backup runs."""
        if churn_first:
            self.drop_a_file_and_forget(DEVICES[1 - DEVICES.index(device)], revive, keep=1)
        self._edit(device, changes)
        used = {h for want in self.expected.values() for h in want.values()}
        unused = [j for j in range(len(POOL)) if POOL_HASHES[j] in self.ever - used]
        if unused:
            self._edit(device, [("add", 5, unused[revive % len(unused)])])
        self._backup(device, _RacingPrune(self))
        if then_sweep:
            self.run_prune(0.05)

    @rule(device=st.sampled_from(DEVICES), pick=st.integers(0, 5), keep=st.just(1))
    def drop_a_file_and_forget(self, device: str, pick: int, keep: int) -> None:
        """Leaves content that is stored but no longer used: what prune exists for."""
        files = sorted(self.src[device].iterdir())
        if files:
            files[pick % len(files)].unlink()
        self._backup(device, None)
        self.forget(device, keep)

    @rule(device=st.sampled_from(DEVICES), keep=st.integers(1, 2))
    def forget(self, device: str, keep: int) -> None:
        repo = self.open_as(device)
        for decision in apply_policy(list(repo.snapshots()), Policy(last=keep)):
            record = remove_with_record(repo, decision.remove)  # as the owner's forget does
            if record is not None:
                self.seen[device].add(record)
            for snap in decision.remove:
                del self.expected[snap.id]

    def provider_keeps_a_copy(self) -> None:
        """After every step the provider copies ``snapshots/`` as it is, to serve it later."""
        copy = self.tmp / f"provider-copy-{self.step}"
        if (self.handle.path / "snapshots").exists() and not copy.exists():
            shutil.copytree(self.handle.path / "snapshots", copy)
            self.copies = [*self.copies[-3:], (self.step, copy)]

    @rule(pick=st.integers(0, 3))
    def provider_rolls_back(self, pick: int) -> None:
        """The provider serves an older copy of ``snapshots/``; each device must refuse exactly
        when it has seen an object created after that copy. Then the provider stops."""
        if not self.copies:
            return
        taken, copy = self.copies[pick % len(self.copies)]
        live = self.handle.path / "snapshots"
        aside = self.tmp / "live-snapshots"
        shutil.move(live, aside)
        shutil.copytree(copy, live)
        try:
            for device in DEVICES:
                newer = {o for o in self.seen[device] if self.created.get(o, 0) > taken}
                try:
                    self.open_as(device)
                    detected = False
                except FreshnessError:
                    detected = True
                assert detected == bool(newer), (device, taken, sorted(newer))
                event("rollback detected" if detected else "rollback hid nothing this device saw")
        finally:
            shutil.rmtree(live)
            shutil.move(aside, live)

    @rule(max_unused=st.sampled_from([0.0, 0.05, 0.5]))
    def prune(self, max_unused: float) -> None:
        self.run_prune(max_unused)

    @rule(k=st.integers(1, 10))
    def killed_prune(self, k: int) -> None:
        proc = subprocess.run(
            [sys.executable, str(KILLER), str(self.handle.path), str(k), "0.05"],
            env=self.handle.env(self.tmp),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode in (0, -signal.SIGKILL), proc.stderr
        event("prune killed" if proc.returncode else "prune finished before the kill point")

    # -- invariants ---------------------------------------------------------------------------
    @invariant()
    def no_false_freshness_alarm(self) -> None:
        self.step += 1
        for name in self._objects():
            self.created.setdefault(name, self.step)
        for device in DEVICES:
            self.open_as(device)  # raises FreshnessError on a false alarm
        self.provider_keeps_a_copy()

    @invariant()
    def every_kept_snapshot_is_whole(self) -> None:
        repo = self.handle.open()
        assert sorted(repo.snapshot_ids()) == sorted(self.expected)
        report = check(repo, read_data=True)
        assert report.ok, report.errors
        for snap_id, want in self.expected.items():
            self.restores += 1
            target = self.tmp / f"restore-{self.restores}"
            result = restore(repo, repo.load_snapshot(snap_id), target)
            assert result.errors == []
            assert digests(target) == want
            shutil.rmtree(target)


TwoDevices.TestCase.settings = settings(
    max_examples=20,
    stateful_step_count=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestTwoDevices = TwoDevices.TestCase
