"""The login's fast path (coffer.vault.fastpath) against SQLite and PostgreSQL: every condition
the one-statement spend and finish re-check, rate-limit tokens taken in the read, the async side
answering exactly like the blocking one, and no lockout landing under a concurrent success."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import threading
from typing import Any

import pytest

from coffer.vault.fastpath import (
    Charge,
    FinishOk,
    ReadAttempt,
    ReadPending,
    SpendAttempt,
    SpendFresh,
    StoreRequest,
    TakeCharges,
)
from coffer.vault.store import Action, AttemptRow, AuditContext, NewRecord, PendingRow, SqlStore
from coffer.vault.store_postgres import PostgresStore

CTX = AuditContext("192.0.2.1", "test")


def _register(store: SqlStore, account: str = "alice") -> None:
    new = NewRecord(account, b"c" * 16, b"r" * 192, b"s" * 48, '{"alg":"identity"}')
    assert store.register(new, 1.0, CTX) is None


def _read(store: SqlStore, account: str = "alice", now: float = 2.0) -> AttemptRow:
    wait, row = store.fast(ReadAttempt(account, (), now))
    assert wait == 0 and row is not None
    return row


def _spend(store: SqlStore, row: AttemptRow, now: float = 2.0, ttl: float = 60.0) -> Any:
    pending = PendingRow(os.urandom(16), row.account, "login", row.generation, b"st", now + ttl)
    return store.fast(SpendAttempt(row, pending, now, CTX)), pending


def test_read_then_spend_commits_pending_and_audit(store: SqlStore) -> None:
    _register(store)
    row = _read(store)
    assert (row.attempts_left, row.record) == (10, b"r" * 192)
    left, pending = _spend(store, row)
    assert left == 9 and store.raw_account("alice")["attempts_left"] == 9  # type: ignore[index]
    _, again = store.fast(ReadPending(pending.id, (), 3.0))
    assert again == pending
    assert [e["event"] for e in store.audit_events("alice")] == ["register", "attempt"]


def test_spend_refuses_a_stale_row_and_changes_nothing(store: SqlStore) -> None:
    _register(store)
    row = _read(store)
    stale = AttemptRow(row.account, row.record, row.cred_id, row.ksf, 10, row.generation + 1)
    left, pending = _spend(store, stale)
    assert left is None
    assert store.raw_account("alice")["attempts_left"] == 10  # type: ignore[index]
    assert store.fast(ReadPending(pending.id, (), 3.0)) == (0, None)
    assert [e["event"] for e in store.audit_events("alice")] == ["register"]


def test_two_spends_of_the_last_attempt_one_wins(store: SqlStore) -> None:
    store.max_attempts = 1
    _register(store)
    rows = [_read(store), _read(store)]
    barrier = threading.Barrier(2)
    results: list[Any] = []

    def go(row: AttemptRow) -> None:
        barrier.wait()
        results.append(_spend(store, row)[0])

    threads = [threading.Thread(target=go, args=(r,)) for r in rows]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results, key=str) == [0, None]


def test_finish_consumes_once_restores_and_audits(store: SqlStore) -> None:
    _register(store)
    _, pending = _spend(store, _read(store))
    assert store.fast(FinishOk(pending, 3.0, CTX)) == (b"s" * 48, 10)
    assert store.fast(FinishOk(pending, 3.0, CTX)) is None
    assert store.fast(ReadPending(pending.id, (), 3.0)) == (0, None)
    assert [e["event"] for e in store.audit_events("alice")][-1] == "success"


def test_finish_leaves_an_expired_attempt_to_the_slow_path(store: SqlStore) -> None:
    _register(store)
    _, pending = _spend(store, _read(store), ttl=5.0)
    assert store.fast(FinishOk(pending, 7.0 + 1.0, CTX)) is None
    late = store.finish_login(pending.id, 8.0, CTX, lambda p: True, Action.RECOVER)
    assert late.outcome.name == "EXPIRED" and late.attempts_left == 9


def test_finish_after_a_password_change_is_a_conflict(store: SqlStore) -> None:
    _register(store)
    _, pending = _spend(store, _read(store))
    with store._tx() as cur:  # what a password change committed meanwhile does to the row
        store._run(cur, "UPDATE accounts SET generation = generation + 1")
    assert store.fast(FinishOk(pending, 3.0, CTX)) == "conflict"
    assert store.fast(ReadPending(pending.id, (), 3.0)) == (0, None)  # consumed all the same


def test_locked_and_unknown_accounts_read_as_none(store: SqlStore) -> None:
    store.max_attempts = 1
    _register(store)
    _, pending = _spend(store, _read(store))
    store.abort_login(pending.id, 3.0, CTX)
    assert store.raw_account("alice")["state"] == "locked"  # type: ignore[index]
    assert store.fast(ReadAttempt("alice", (), 4.0)) == (0, None)
    assert store.fast(ReadAttempt("nobody", (), 4.0)) == (0, None)


def test_charges_are_taken_in_order_and_refusal_reads_nothing(store: SqlStore) -> None:
    _register(store)
    addr, acct = Charge("addr:a", 0.01, 2), Charge("acct:alice", 0.01, 3)
    for _ in range(2):
        wait, row = store.fast(ReadAttempt("alice", (addr, acct), 10.0))
        assert wait == 0 and row is not None
    wait, row = store.fast(ReadAttempt("alice", (addr, acct), 10.0))
    assert wait >= 1 and row is None
    # the account bucket paid only for the two allowed reads: one token is left in it
    assert store.fast(TakeCharges((acct,), 10.0)) == 0
    assert store.fast(TakeCharges((acct,), 10.0)) >= 1
    assert store.fast(ReadPending(b"x" * 16, (addr,), 10.0))[0] >= 1
    assert store.fast(TakeCharges((), 10.0)) == 0


def _both_ways(store: SqlStore, requests: list[StoreRequest]) -> list[Any]:
    async def run() -> list[Any]:
        store.open_async()
        try:
            assert store.async_ready()
            return [await store.fast_async(r) for r in requests]
        finally:
            await store.close_async()

    return asyncio.run(run())


def test_the_async_side_answers_like_the_blocking_one(store: SqlStore) -> None:
    if not isinstance(store, PostgresStore):
        assert not store.async_ready()
        pytest.skip("only PostgreSQL has an async side (SQLite nodes run the blocking one)")
    _register(store)
    row = _read(store)
    pending = PendingRow(os.urandom(16), "alice", "login", row.generation, b"st", 62.0)
    limit = Charge("addr:b", 0.01, 1)
    answers = _both_ways(
        store,
        [
            ReadAttempt("alice", (limit,), 2.0),
            ReadAttempt("alice", (limit,), 2.0),
            SpendAttempt(row, pending, 2.0, CTX),
            ReadPending(pending.id, (), 2.0),
            FinishOk(pending, 3.0, CTX),
            FinishOk(pending, 3.0, CTX),
            TakeCharges((limit,), 3.0),
        ],
    )
    assert answers[0] == (0, row)
    assert answers[1][0] >= 1 and answers[1][1] is None
    assert answers[2:6] == [9, (0, pending), (b"s" * 48, 10), None]
    assert answers[6] >= 1


def test_no_lockout_lands_under_a_concurrent_success(store: SqlStore) -> None:
    """Both last attempts out; one finishes right while the other fails at the same moment:
    whichever runs first, the account ends active with its full allowance, every round."""
    store.max_attempts = 2
    _register(store)
    for _ in range(12):
        good = _spend(store, _read(store))[1]
        bad = _spend(store, _read(store))[1]
        assert store.raw_account("alice")["attempts_left"] == 0  # type: ignore[index]
        barrier = threading.Barrier(2)
        out: dict[str, Any] = {}

        def win() -> None:
            barrier.wait()
            out["ok"] = store.fast(FinishOk(good, 3.0, CTX))

        def lose() -> None:
            barrier.wait()
            out["bad"] = store.finish_login(bad.id, 3.0, CTX, lambda p: False, Action.RECOVER)

        threads = [threading.Thread(target=win), threading.Thread(target=lose)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert out["ok"] == (b"s" * 48, 2)
        assert not out["bad"].locked
        row = store.raw_account("alice")
        assert row is not None and row["state"] == "active" and row["attempts_left"] == 2


def test_async_connections_survive_errors_and_a_killed_backend(store: SqlStore) -> None:
    """An error result is a StoreError and the next request gets a fresh connection; so does a
    request after PostgreSQL dropped the connection under it."""
    if not isinstance(store, PostgresStore):
        pytest.skip("only PostgreSQL has an async side (SQLite nodes run the blocking one)")
    from coffer.vault.errors import StoreError

    _register(store)

    async def run() -> None:
        store.open_async()
        try:
            row = (await store.fast_async(ReadAttempt("alice", (), 2.0)))[1]
            pending = PendingRow(os.urandom(16), "alice", "login", row.generation, b"st", 62.0)
            assert await store.fast_async(SpendAttempt(row, pending, 2.0, CTX)) == 9
            with pytest.raises(StoreError):  # the same attempt ID again: a key violation
                await store.fast_async(SpendAttempt(_read(store), pending, 2.0, CTX))
            assert (await store.fast_async(ReadAttempt("alice", (), 2.0)))[1] is not None
            assert store._apool is not None
            pids = store._apool.backend_pids()
            assert pids
            with store._tx() as cur:
                for pid in pids:
                    store._run(cur, "SELECT pg_terminate_backend(%s)", pid)
            await asyncio.sleep(0.3)
            for _ in range(3):
                try:
                    answer = await store.fast_async(ReadAttempt("alice", (), 3.0))
                    break
                except StoreError:  # the request that found its connection gone
                    continue
            assert answer[1] is not None and answer[1].attempts_left == 9
        finally:
            await store.close_async()

    asyncio.run(run())
    assert store.raw_account("alice")["attempts_left"] == 9  # type: ignore[index]


def _fresh(store: SqlStore, charges: tuple[Charge, ...] = (), account: str = "alice") -> Any:
    attempt_id = os.urandom(16)
    return store.fast(SpendFresh(account, attempt_id, charges, 2.0, 62.0, CTX)), attempt_id


def test_a_fresh_spend_reads_spends_and_stores_in_one_request(store: SqlStore) -> None:
    """SpendFresh: the row it answers is the one after the spend; the pending row holds no
    sealed state and finishes like any other."""
    _register(store)
    (wait, row), attempt_id = _fresh(store)
    assert wait == 0 and row is not None
    assert (row.record, row.attempts_left) == (b"r" * 192, 9)
    assert store.raw_account("alice")["attempts_left"] == 9  # type: ignore[index]
    _, pending = store.fast(ReadPending(attempt_id, (), 3.0))
    assert pending == PendingRow(attempt_id, "alice", "login", row.generation, b"", 62.0)
    assert [e["event"] for e in store.audit_events("alice")] == ["register", "attempt"]
    assert store.fast(FinishOk(pending, 3.0, CTX)) == (b"s" * 48, 10)


def test_a_fresh_spend_of_nothing_changes_nothing(store: SqlStore) -> None:
    store.max_attempts = 1
    _register(store)
    assert _fresh(store, account="nobody")[0] == (0, None)
    (_, row), attempt_id = _fresh(store)
    assert row is not None and row.attempts_left == 0
    assert _fresh(store)[0] == (0, None)  # at zero
    store.abort_login(attempt_id, 3.0, CTX)
    assert store.raw_account("alice")["state"] == "locked"  # type: ignore[index]
    assert _fresh(store)[0] == (0, None)  # locked
    assert [e["event"] for e in store.audit_events("alice")] == [
        "register",
        "attempt",
        "lockout",
        "failure",
    ]
    assert store.raw_account("nobody") is None


def test_a_refused_fresh_spend_spends_nothing(store: SqlStore) -> None:
    _register(store)
    addr, acct = Charge("addr:f", 0.01, 1), Charge("acct:alice", 0.01, 5)
    assert _fresh(store, (addr, acct))[0][1] is not None
    (wait, row), attempt_id = _fresh(store, (addr, acct))
    assert wait >= 1 and row is None
    assert store.raw_account("alice")["attempts_left"] == 9  # type: ignore[index]
    assert store.fast(ReadPending(attempt_id, (), 3.0)) == (0, None)
    for _ in range(4):  # the account bucket paid for the allowed spend only
        assert store.fast(TakeCharges((acct,), 2.0)) == 0
    assert store.fast(TakeCharges((acct,), 2.0)) >= 1


def test_two_fresh_spends_of_the_last_attempt_one_wins(store: SqlStore) -> None:
    store.max_attempts = 1
    _register(store)
    barrier = threading.Barrier(2)
    results: list[Any] = []

    def go() -> None:
        barrier.wait()
        results.append(_fresh(store)[0][1])

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r is None for r in results) == [False, True]
    assert store.raw_account("alice")["attempts_left"] == 0  # type: ignore[index]


def test_the_async_fresh_spend_answers_like_the_blocking_one(store: SqlStore) -> None:
    if not isinstance(store, PostgresStore):
        assert not store.async_ready()  # so its nodes take the blocking side, tested above
        pytest.skip("only PostgreSQL has an async side (SQLite nodes run the blocking one)")
    _register(store)
    limit = Charge("addr:g", 0.01, 1)
    ids = [os.urandom(16) for _ in range(3)]
    answers = _both_ways(
        store,
        [
            SpendFresh("alice", ids[0], (limit,), 2.0, 62.0, CTX),
            SpendFresh("alice", ids[1], (limit,), 2.0, 62.0, CTX),
            SpendFresh("nobody", ids[2], (), 2.0, 62.0, CTX),
        ],
    )
    blocking = _fresh(store)[0]
    assert answers[0][0] == 0 and answers[0][1].attempts_left == 9
    assert answers[0][1] == dataclasses.replace(blocking[1], attempts_left=9)
    assert answers[1][0] >= 1 and answers[1][1] is None
    assert answers[2] == (0, None)
    assert store.raw_account("alice")["attempts_left"] == 8  # type: ignore[index]
