"""Retry, limits and fault injection: the behaviour beyond the shared contract."""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import pytest

from coffer.backends.base import (
    BackendError,
    ObjectExists,
    ObjectNotFound,
    ObjectType,
    TransientError,
)
from coffer.backends.faults import FaultInjector
from coffer.backends.limits import LimitedBackend, TokenBucket
from coffer.backends.memory import MemoryBackend
from coffer.backends.retry import RetryBackend
from coffer.backends.wrapper import Wrapper

T = TypeVar("T")
D = ObjectType.DATA


def oid(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


class Sleeps:
    """Records requested sleeps without sleeping; advances a fake clock."""

    def __init__(self) -> None:
        self.calls: list[float] = []
        self.now = 0.0

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


# -- retry ---------------------------------------------------------------------------------


def test_retry_cures_transient_failures_with_growing_delays() -> None:
    sleeps = Sleeps()
    flaky = FaultInjector(MemoryBackend(), fail_calls={1, 2, 3})
    b = RetryBackend(flaky, attempts=5, base_delay=1.0, sleep=sleeps, rng=random.Random(7))
    b.save(D, oid("a"), b"payload")
    assert b.load(D, oid("a")) == b"payload"
    assert b.retries == 3
    assert len(sleeps.calls) == 3
    for i, s in enumerate(sleeps.calls):
        ceiling = 1.0 * 2**i
        assert ceiling / 2 <= s <= ceiling


def test_retry_delay_is_capped() -> None:
    b = RetryBackend(MemoryBackend(), base_delay=1.0, max_delay=5.0, rng=random.Random(1))
    assert all(b.delay(n) <= 5.0 for n in range(1, 40))


def test_retry_gives_up_after_bounded_attempts() -> None:
    sleeps = Sleeps()
    dead = FaultInjector(MemoryBackend(), fail_rate=1.0)
    b = RetryBackend(dead, attempts=4, sleep=sleeps)
    with pytest.raises(TransientError, match="gave up after 4 attempts") as info:
        b.stat(D, oid("x"))
    assert isinstance(info.value.__cause__, TransientError)
    assert dead.calls == 4
    assert len(sleeps.calls) == 3


@pytest.mark.parametrize(
    "error", [ObjectNotFound("gone"), BackendError("403 forbidden: bad credentials")]
)
def test_retry_surfaces_permanent_errors_at_once(error: BackendError) -> None:
    class Failing(Wrapper):
        calls = 0

        def _call(self, op: str, what: str, fn: Callable[[], T]) -> T:
            self.calls += 1
            raise error

    sleeps = Sleeps()
    inner = Failing(MemoryBackend())
    b = RetryBackend(inner, sleep=sleeps)
    with pytest.raises(type(error), match=str(error)):
        b.stat(D, oid("p"))
    assert inner.calls == 1
    assert sleeps.calls == []


def test_retry_accepts_own_object_after_lost_reply() -> None:
    mem = MemoryBackend()
    b = RetryBackend(FaultInjector(mem, lost_ack_calls={1}), sleep=Sleeps())
    b.save(D, oid("l"), b"mine")
    assert mem.load(D, oid("l")) == b"mine"
    assert b.retries == 1


def test_retry_still_refuses_a_different_existing_object() -> None:
    mem = MemoryBackend()
    mem.save(D, oid("o"), b"theirs")
    b = RetryBackend(FaultInjector(mem, fail_calls={1}), sleep=Sleeps())
    with pytest.raises(ObjectExists):
        b.save(D, oid("o"), b"mine!!")
    assert mem.load(D, oid("o")) == b"theirs"


# -- limits --------------------------------------------------------------------------------


class Probe(Wrapper):
    """Records the largest number of operations in flight at once."""

    def __init__(self, inner: MemoryBackend) -> None:
        super().__init__(inner)
        self._lock = threading.Lock()
        self.active = 0
        self.peak = 0
        self.gate = threading.Event()

    def _call(self, op: str, what: str, fn: Callable[[], T]) -> T:
        with self._lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        self.gate.wait(0.05)
        try:
            return fn()
        finally:
            with self._lock:
                self.active -= 1


@pytest.mark.parametrize("connections", [1, 4])
def test_concurrency_limit(connections: int) -> None:
    probe = Probe(MemoryBackend())
    b = LimitedBackend(probe, connections=connections)
    threads = [
        threading.Thread(target=b.save, args=(D, oid(str(i)), b"x")) for i in range(3 * connections)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert probe.peak <= connections
    assert len(list(b.list(D))) == 3 * connections


def test_default_concurrency_is_four() -> None:
    assert LimitedBackend(MemoryBackend()).connections == 4


def test_upload_and_download_limits_pace_bytes() -> None:
    sleeps = Sleeps()
    b = LimitedBackend(
        MemoryBackend(), upload_kib=100, download_kib=50, clock=sleeps.clock, sleep=sleeps
    )
    data = bytes(1024 * 1024)  # 1 MiB through a 100 KiB/s bucket holding one second
    b.save(D, oid("u"), data)
    upload_wait = sum(sleeps.calls)
    assert upload_wait == pytest.approx((1024 - 100) / 100, rel=0.01)
    sleeps.calls.clear()
    b.load(D, oid("u"))
    assert sum(sleeps.calls) == pytest.approx((1024 - 50) / 50, rel=0.01)


def test_token_bucket_refills_with_time() -> None:
    sleeps = Sleeps()
    bucket = TokenBucket(1000, clock=sleeps.clock, sleep=sleeps)
    bucket.consume(1000)
    assert sleeps.calls == []
    sleeps.now += 0.5
    bucket.consume(500)
    assert sleeps.calls == []
    bucket.consume(250)
    assert sum(sleeps.calls) == pytest.approx(0.25)


def test_unlimited_by_default() -> None:
    b = LimitedBackend(MemoryBackend())
    assert b.upload is None and b.download is None


# -- faults --------------------------------------------------------------------------------


def test_fail_nth_call() -> None:
    f = FaultInjector(MemoryBackend(), fail_calls={2})
    f.save(D, oid("1"), b"a")
    with pytest.raises(TransientError, match="call 2"):
        f.save(D, oid("2"), b"b")
    f.save(D, oid("3"), b"c")
    assert {n for n, _ in f.list(D)} == {oid("1"), oid("3")}
    assert (f.calls, f.injected) == (4, 1)


def test_fail_fraction_is_seeded_and_close_to_rate() -> None:
    def run() -> list[bool]:
        f = FaultInjector(MemoryBackend(), fail_rate=0.2, seed=42)
        outcomes = []
        for _ in range(2000):
            try:
                f.stat(D, oid("s"))
            except TransientError:
                outcomes.append(True)
            except ObjectNotFound:
                outcomes.append(False)
        return outcomes

    first = run()
    assert first == run()
    assert 300 < sum(first) < 500


def test_ops_filter_numbers_only_selected_operations() -> None:
    f = FaultInjector(MemoryBackend(), fail_rate=1.0, ops={"load"})
    f.save(D, oid("f"), b"x")
    assert f.stat(D, oid("f")) == 1
    with pytest.raises(TransientError):
        f.load(D, oid("f"))
    assert f.calls == 1


def test_truncated_read() -> None:
    f = FaultInjector(MemoryBackend(), truncate_calls={2}, truncate_by=3)
    f.save(D, oid("t"), b"0123456789")
    assert f.load(D, oid("t")) == b"0123456"


def test_dropped_upload_leaves_nothing_visible() -> None:
    mem = MemoryBackend()
    f = FaultInjector(mem, drop_upload_calls={1})
    with pytest.raises(TransientError, match="connection dropped"):
        f.save(D, oid("d"), b"x" * 1000)
    assert not mem.exists(D, oid("d"))
    assert list(mem.list(D)) == []


def test_delay_uses_injected_sleep() -> None:
    sleeps = Sleeps()
    f = FaultInjector(MemoryBackend(), delay=0.25, sleep=sleeps)
    f.save(D, oid("z"), b"x")
    f.load(D, oid("z"))
    assert sleeps.calls == [0.25, 0.25]


def test_unknown_operation_rejected() -> None:
    with pytest.raises(ValueError, match="unknown operations"):
        FaultInjector(MemoryBackend(), ops={"frobnicate"})


def test_real_sleep_default_is_time_sleep() -> None:
    assert RetryBackend(MemoryBackend())._sleep is time.sleep


@pytest.mark.parametrize(
    "wrap",
    [
        lambda b: RetryBackend(b, sleep=Sleeps()),
        lambda b: LimitedBackend(b),
        lambda b: FaultInjector(b),
    ],
)
def test_exists_uses_the_inner_backends_own_check(wrap: Callable[[MemoryBackend], Wrapper]) -> None:
    class OwnExists(MemoryBackend):
        def __init__(self) -> None:
            super().__init__()
            self.asked: list[str] = []

        def exists(self, kind: ObjectType, name: str) -> bool:
            self.asked.append(name)
            return super().exists(kind, name)

    inner = OwnExists()
    assert wrap(inner).exists(D, oid("e")) is False
    assert inner.asked == [oid("e")]
