"""The guess limit under concurrency, across processes, and across a crash.

50 concurrent wrong-password logins for one account, spread over 3 vault node processes on one
PostgreSQL database (and over threads against one SQLite node): exactly 10 KE2s are issued, the
other 40 are refused as locked, and V and the record are gone. A node killed between committing
the decrement and sending KE2 leaves the attempt counted.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from coffer.vault.client import VaultClient
from coffer.vault.errors import VaultLocked, VaultUnavailable, WrongPassword
from coffer.vault.seal import KeyFileSealer
from coffer.vault.server import init_vault
from coffer.vault.store import SqlStore
from coffer.vault.store_postgres import PostgresStore
from coffer.vault.store_sqlite import SqliteStore

from .vault_helpers import FAST_KSF, OPEN_SETTINGS, new_pg_store
from .vault_nodes import Node

PW = b"the right password"
V = os.urandom(32)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _hammer(urls: list[str], key: bytes, account: str, n: int = 50) -> Counter[str]:
    barrier = threading.Barrier(n)

    def one(i: int) -> str:
        client = VaultClient(urls[i % len(urls)], pinned_key=key, timeout=60.0)
        barrier.wait()
        try:
            client.recover(account, b"wrong guess %d" % i)
        except WrongPassword:
            return "ke2"
        except VaultLocked:
            return "locked"
        finally:
            client.close()
        return "opened"

    with ThreadPoolExecutor(max_workers=n) as pool:
        return Counter(pool.map(one, range(n)))


def _check_limit(store: SqlStore, urls: list[str], key: bytes) -> None:
    client = VaultClient(urls[0], pinned_key=key, timeout=60.0)
    client.register("target", PW, V, ksf=FAST_KSF)
    for _ in range(3):
        with pytest.raises(WrongPassword):
            client.recover("target", b"bad")
    assert client.recover("target", PW) == V  # a correct login restores the allowance
    assert client.attempts_left("target") == 10

    outcome = _hammer(urls, key, "target")
    assert outcome == Counter({"ke2": 10, "locked": 40})
    events = Counter(e["event"] for e in store.audit_events("target"))
    assert events["attempt"] == 3 + 1 + 10 and events["lockout"] == 1
    row = store.raw_account("target")
    assert row is not None and row["state"] == "locked"
    assert row["record"] is None and row["secret"] is None
    with pytest.raises(VaultLocked):
        client.recover("target", PW)


@pytest.fixture
def pg_nodes(pg_dsn: str, tmp_path: Path) -> Iterator[tuple[PostgresStore, list[str], bytes]]:
    store = new_pg_store(pg_dsn)
    key_file = tmp_path / "seal.key"
    setup = init_vault(store, KeyFileSealer.create(key_file), settings=OPEN_SETTINGS)
    nodes = [
        Node(pg_dsn, key_file, schema=store.schema, name=f"n{i}", log=tmp_path / f"n{i}.log")
        for i in range(3)
    ]
    try:
        for node in nodes:
            node.wait_ready()
        yield store, [n.url for n in nodes], setup.public_key
    finally:
        for node in nodes:
            node.stop()
        store.drop_schema()
        store.close()


def test_three_postgres_nodes_issue_exactly_ten_ke2s(
    pg_nodes: tuple[PostgresStore, list[str], bytes],
) -> None:
    store, urls, key = pg_nodes
    _check_limit(store, urls, key)
    nodes_seen = {e["node"] for e in store.audit_events("target") if e["event"] == "attempt"}
    assert len(nodes_seen) >= 2  # the attempts really were spread over several nodes


def test_sqlite_node_with_threads_issues_exactly_ten_ke2s(tmp_path: Path) -> None:
    db = tmp_path / "vault.db"
    store = SqliteStore(db)
    setup = init_vault(store, KeyFileSealer.create(tmp_path / "seal.key"), settings=OPEN_SETTINGS)
    node = Node(str(db), tmp_path / "seal.key", log=tmp_path / "node.log")
    try:
        node.wait_ready()
        _check_limit(store, [node.url], setup.public_key)
    finally:
        node.stop()
        store.close()


def test_crash_after_commit_keeps_the_attempt_counted(tmp_path: Path) -> None:
    db = tmp_path / "vault.db"
    key_file = tmp_path / "seal.key"
    store = SqliteStore(db)
    setup = init_vault(store, KeyFileSealer.create(key_file), settings=OPEN_SETTINGS)
    node = Node(str(db), key_file, log=tmp_path / "a.log").wait_ready()
    try:
        VaultClient(node.url, pinned_key=setup.public_key).register("victim", PW, V, ksf=FAST_KSF)
    finally:
        node.stop()
    crashing = Node(
        str(db),
        key_file,
        env={"COFFER_VAULT_TEST_CRASH_AFTER_COMMIT": "1"},
        log=tmp_path / "b.log",
    ).wait_ready()
    try:
        with pytest.raises(VaultUnavailable):
            VaultClient(crashing.url, pinned_key=setup.public_key).recover("victim", PW)
        assert crashing.proc.wait(10) == 75
    finally:
        crashing.stop()
    restarted = Node(str(db), key_file, log=tmp_path / "c.log").wait_ready()
    try:
        client = VaultClient(restarted.url, pinned_key=setup.public_key)
        assert client.attempts_left("victim") == 9
        assert [e["event"] for e in store.audit_events("victim")][-1] == "attempt"
        assert client.recover("victim", PW) == V
    finally:
        restarted.stop()
        store.close()
