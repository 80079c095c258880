"""Retention policies: unit cases with known answers, and properties over random histories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coffer.engine.snapshot import Snapshot
from coffer.errors import UsageError
from coffer.ops.retention import Policy, apply_policy, parse_duration

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def snap(
    i: int, when: datetime, host: str = "phone", paths: tuple[str, ...] = ("/chats",)
) -> Snapshot:
    return Snapshot(when.isoformat(), host, "u", list(paths), [], id=f"{i:064x}")


def kept_ids(snaps: list[Snapshot], policy: Policy) -> set[str]:
    return {s.id for d in apply_policy(snaps, policy) for s in d.keep}


def test_keep_last_keeps_the_newest() -> None:
    snaps = [snap(i, T0 + timedelta(hours=i)) for i in range(5)]
    assert kept_ids(snaps, Policy(last=2)) == {snaps[4].id, snaps[3].id}


def test_keep_daily_takes_the_newest_of_each_day() -> None:
    snaps = [snap(i, T0 + timedelta(hours=6 * i)) for i in range(12)]  # 4 per day, 3 days
    kept = kept_ids(snaps, Policy(daily=2))
    assert kept == {snaps[11].id, snaps[7].id}


def test_weekly_monthly_yearly_buckets() -> None:
    snaps = [snap(i, T0 + timedelta(days=i)) for i in range(400)]
    assert len(kept_ids(snaps, Policy(weekly=4))) == 4
    months = kept_ids(snaps, Policy(monthly=3))
    assert [s.time[:10] for s in snaps if s.id in months] == [
        "2026-12-31",
        "2027-01-31",
        "2027-02-04",
    ]
    assert len(kept_ids(snaps, Policy(yearly=-1))) == 2  # 2026 and 2027


def test_keep_within_is_relative_to_the_newest_snapshot() -> None:
    snaps = [snap(i, T0 + timedelta(days=i)) for i in range(10)]
    kept = kept_ids(snaps, Policy(within=parse_duration("3d")))
    assert kept == {s.id for s in snaps[6:]}


def test_groups_are_judged_separately() -> None:
    a = [snap(i, T0 + timedelta(hours=i), host="phone") for i in range(3)]
    b = [snap(10 + i, T0 + timedelta(hours=i), host="tablet") for i in range(3)]
    decisions = apply_policy(a + b, Policy(last=1))
    assert [(d.hostname, [s.id for s in d.keep]) for d in decisions] == [
        ("phone", [a[2].id]),
        ("tablet", [b[2].id]),
    ]


def test_reasons_are_reported() -> None:
    snaps = [snap(i, T0 + timedelta(days=i)) for i in range(3)]
    (d,) = apply_policy(snaps, Policy(last=1, daily=2))
    assert d.reasons[snaps[2].id] == ["last", "daily"] and d.reasons[snaps[1].id] == ["daily"]


def test_empty_policy_is_refused() -> None:
    with pytest.raises(UsageError):
        apply_policy([snap(0, T0)], Policy())


@pytest.mark.parametrize("text", ["", "3", "d", "1x", "2d 3h", "-1d"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(UsageError):
        parse_duration(text)


def test_durations() -> None:
    assert parse_duration("1w2d3h4m5s") == timedelta(days=9, hours=3, minutes=4, seconds=5)
    assert parse_duration("1y") == timedelta(days=365) and parse_duration("0s") == timedelta(0)


histories = st.lists(
    st.tuples(st.integers(0, 3 * 365 * 24), st.sampled_from(["phone", "tablet"])),
    min_size=1,
    max_size=40,
)
policies = st.builds(
    Policy,
    last=st.integers(0, 5),
    hourly=st.integers(0, 5),
    daily=st.integers(0, 5),
    weekly=st.integers(-1, 5),
    monthly=st.integers(0, 5),
    yearly=st.integers(0, 3),
    within=st.one_of(st.none(), st.integers(0, 2000).map(lambda h: timedelta(hours=h))),
).filter(lambda p: not p.empty())


@settings(max_examples=150, deadline=None)
@given(histories, policies)
def test_policy_properties(history: list[tuple[int, str]], policy: Policy) -> None:
    snaps = [snap(i, T0 + timedelta(hours=h), host=host) for i, (h, host) in enumerate(history)]
    decisions = apply_policy(snaps, policy)
    kept = [s.id for d in decisions for s in d.keep]
    removed = [s.id for d in decisions for s in d.remove]
    assert sorted(kept + removed) == sorted(s.id for s in snaps)  # a partition
    assert not set(kept) & set(removed)
    for d in decisions:
        group = d.keep + d.remove
        newest = max(group, key=lambda s: (s.time, s.id))
        assert newest in d.keep  # every non-empty policy keeps each group's newest
        bucketed = sum(
            max(n, 0)
            for n in (policy.last, policy.hourly, policy.daily, policy.monthly, policy.yearly)
        )
        if policy.within is None and policy.weekly >= 0:
            assert len(d.keep) <= bucketed + policy.weekly
        if policy.last > 0:
            newest_n = sorted(group, key=lambda s: (s.time, s.id), reverse=True)[: policy.last]
            assert all(s in d.keep for s in newest_n)
