"""The store contract, run against SQLite and PostgreSQL (the `store` fixture is parametrised)."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from coffer.vault.errors import StoreError
from coffer.vault.store import (
    Action,
    AttemptRow,
    AuditContext,
    NewRecord,
    Outcome,
    PendingRow,
    SqlStore,
)

CTX = AuditContext("192.0.2.1", "test")
GHOST = (b"g" * 16, '{"alg":"identity"}')


def _register(store: SqlStore, account: str = "alice", now: float = 1.0) -> None:
    new = NewRecord(account, b"c" * 16, b"r" * 192, b"s" * 48, '{"alg":"identity"}')
    assert store.register(new, now, CTX) is None


def _attempt(store: SqlStore, account: str, now: float, ttl: float = 60.0) -> bytes | None:
    pid = os.urandom(16)

    def build(row: AttemptRow) -> tuple[PendingRow, bytes]:
        return PendingRow(pid, row.account, "login", row.generation, b"state", now + ttl), pid

    return store.take_attempt(account, GHOST, now, CTX, build)


def test_counter_spends_exactly_max_attempts(store: SqlStore) -> None:
    _register(store)
    issued = [_attempt(store, "alice", 2.0) for _ in range(15)]
    assert sum(p is not None for p in issued) == 10
    assert store.attempts_left("alice", 3.0, CTX) == (0, True)


def test_threads_never_overspend(store: SqlStore) -> None:
    _register(store)
    barrier = threading.Barrier(20)

    def go(_: int) -> bool:
        barrier.wait()
        return _attempt(store, "alice", 2.0) is not None

    with ThreadPoolExecutor(20) as pool:
        assert sum(pool.map(go, range(40))) == 10


def test_pending_is_single_use(store: SqlStore) -> None:
    _register(store)
    pid = _attempt(store, "alice", 2.0)
    assert pid is not None
    first = store.finish_login(pid, 3.0, CTX, lambda p: True, Action.RECOVER)
    assert first.outcome is Outcome.OK and first.value == b"s" * 48 and first.attempts_left == 10
    again = store.finish_login(pid, 3.0, CTX, lambda p: True, Action.RECOVER)
    assert again.outcome is Outcome.EXPIRED


def test_expired_attempt_counts_as_wrong(store: SqlStore) -> None:
    _register(store)
    pid = _attempt(store, "alice", 2.0, ttl=10.0)
    assert pid is not None
    late = store.finish_login(pid, 50.0, CTX, lambda p: True, Action.RECOVER)
    assert late.outcome is Outcome.EXPIRED and late.attempts_left == 9


def test_last_attempt_stays_usable_until_it_ends(store: SqlStore) -> None:
    _register(store)
    pids = [_attempt(store, "alice", 2.0) for _ in range(10)]
    assert all(pids)
    for pid in pids[:9]:
        assert store.abort_login(pid, 3.0, CTX).locked is False  # type: ignore[arg-type]
    assert store.raw_account("alice")["state"] == "active"  # type: ignore[index]
    ok = store.finish_login(pids[9], 3.0, CTX, lambda p: True, Action.RECOVER)  # type: ignore[arg-type]
    assert ok.outcome is Outcome.OK and ok.attempts_left == 10


def test_lockout_destroys_record_and_secret_in_one_step(store: SqlStore) -> None:
    _register(store)
    pids = [_attempt(store, "alice", 2.0) for _ in range(10)]
    results = [store.abort_login(p, 3.0, CTX) for p in pids]  # type: ignore[arg-type]
    assert [r.locked for r in results] == [False] * 9 + [True]
    row = store.raw_account("alice")
    assert row == {
        "state": "locked",
        "record": None,
        "secret": None,
        "attempts_left": 0,
        "generation": 2,
    }
    assert _attempt(store, "alice", 4.0) is None
    events = [e["event"] for e in store.audit_events("alice")]
    assert events.count("lockout") == 1 and events[-1] == "refused-locked"


def test_sweep_locks_after_the_last_pending_expires(store: SqlStore) -> None:
    _register(store)
    for _ in range(10):
        assert _attempt(store, "alice", 2.0, ttl=5.0) is not None
    assert store.raw_account("alice")["state"] == "active"  # type: ignore[index]
    assert store.sweep(3.0, CTX) == 0
    assert store.sweep(8.0, CTX) == 1
    assert store.raw_account("alice")["secret"] is None  # type: ignore[index]


def test_ghost_accounts_count_like_real_ones(store: SqlStore) -> None:
    for _ in range(10):
        assert _attempt(store, "ghost", 2.0) is not None
    assert _attempt(store, "ghost", 2.0) is None
    assert store.attempts_left("ghost", 3.0, CTX) == (0, True)
    assert store.attempts_left("never-seen", 3.0, CTX) == (10, False)
    _register(store, "ghost")  # registration replaces a ghost, whatever its counter
    assert store.attempts_left("ghost", 3.0, CTX) == (10, False)


def test_register_refuses_active_and_locked(store: SqlStore) -> None:
    _register(store)
    new = NewRecord("alice", b"d" * 16, b"x" * 192, b"y" * 48, "{}")
    assert store.register(new, 2.0, CTX) == "active"
    assert store.raw_account("alice")["record"] == b"r" * 192  # type: ignore[index]


def test_change_generation_invalidates_older_attempts(store: SqlStore) -> None:
    _register(store)
    old = _attempt(store, "alice", 2.0)
    fresh = _attempt(store, "alice", 2.0)
    assert old and fresh
    gid = os.urandom(16)
    from coffer.vault.store import GrantSpec

    granted = store.finish_login(
        fresh, 3.0, CTX, lambda p: True, Action.GRANT, grant=lambda p: GrantSpec(gid, b"g", 60.0)
    )
    assert granted.outcome is Outcome.OK
    new = NewRecord("alice", b"n" * 16, b"N" * 192, b"S" * 48, "{}")
    done = store.commit_change(gid, 4.0, CTX, lambda p: True, lambda p: new)
    assert done.outcome is Outcome.OK
    stale = store.finish_login(old, 5.0, CTX, lambda p: True, Action.RECOVER)
    assert stale.outcome is Outcome.CONFLICT
    assert store.commit_change(gid, 4.0, CTX, lambda p: True, lambda p: new).outcome is (
        Outcome.EXPIRED
    )


def test_failed_verification_rolls_nothing_back(store: SqlStore) -> None:
    _register(store)
    pid = _attempt(store, "alice", 2.0)
    bad = store.finish_login(pid, 3.0, CTX, lambda p: False, Action.RECOVER)  # type: ignore[arg-type]
    assert bad.outcome is Outcome.FAILED and bad.attempts_left == 9


def test_error_in_build_rolls_back_the_decrement(store: SqlStore) -> None:
    _register(store)

    def build(row: AttemptRow) -> tuple[PendingRow, None]:
        raise ValueError("malformed KE1")

    with pytest.raises(ValueError):
        store.take_attempt("alice", GHOST, 2.0, CTX, build)
    assert store.attempts_left("alice", 3.0, CTX) == (10, False)


def test_audit_is_append_only(store: SqlStore) -> None:
    _register(store)
    for sql in ("UPDATE audit SET event = 'x'", "DELETE FROM audit"):
        with pytest.raises(StoreError, match="append-only"), store._tx() as cur:
            cur.execute(sql)
    assert [e["event"] for e in store.audit_events()] == ["register"]


def test_concurrent_first_attempts_on_an_unknown_account(store: SqlStore) -> None:
    barrier = threading.Barrier(12)

    def go(_: int) -> bool:
        barrier.wait()
        return _attempt(store, "fresh-ghost", 2.0) is not None

    with ThreadPoolExecutor(12) as pool:
        assert sum(pool.map(go, range(12))) == 10


@pytest.mark.parametrize("round_", range(4))
def test_concurrent_ends_of_the_last_attempts_always_lock(store: SqlStore, round_: int) -> None:
    account = f"race{round_}"
    _register(store, account)
    pids = [_attempt(store, account, 2.0) for _ in range(10)]
    barrier = threading.Barrier(10)

    def end(pid: bytes) -> bool:
        barrier.wait()
        return store.abort_login(pid, 3.0, CTX).locked

    with ThreadPoolExecutor(10) as pool:
        locked = list(pool.map(end, pids))  # type: ignore[arg-type]
    assert locked.count(True) == 1
    row = store.raw_account(account)
    assert row is not None and row["state"] == "locked" and row["secret"] is None


def test_sqlite_database_files_are_private(tmp_path: Path) -> None:
    from coffer.vault.store_sqlite import SqliteStore

    store = SqliteStore(tmp_path / "sub" / "v.db")
    store.create_schema()
    _register(store)
    for path in (tmp_path / "sub").iterdir():
        assert path.stat().st_mode & 0o077 == 0, path
    store.close()


def test_close_waits_for_a_transaction_another_thread_is_running(tmp_path: Path) -> None:
    import time

    from coffer.vault.store_sqlite import SqliteStore

    store = SqliteStore(tmp_path / "v.db")
    store.create_schema()
    inside, done = threading.Event(), []

    def long_duty() -> None:
        with store._tx() as cur:
            inside.set()
            time.sleep(0.3)
            cur.execute("SELECT count(*) FROM accounts")
            done.append(cur.fetchone()[0])

    worker = threading.Thread(target=long_duty)
    worker.start()
    inside.wait(5)
    store.close()  # must not close the connection under the running transaction
    worker.join(5)
    assert done == [0]
