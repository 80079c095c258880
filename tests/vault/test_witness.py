"""The vault as a freshness witness (``/v1/witness/update`` and ``/read``), on SQLite and
PostgreSQL: the real app in process, the real witness client, raw HTTP for hostile requests.

Forged, replayed, backwards and foreign-key updates are 4xx and leave the stored rows exactly as
they were (read back); writers racing on one witness lose no update (threads on both stores,
and node processes over real sockets on one PostgreSQL database).
"""

from __future__ import annotations

import calendar
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from coffer.freshness import witness_proto as wp
from coffer.freshness.errors import WitnessProtocolError, WitnessRefused
from coffer.freshness.witness_client import WitnessClient
from coffer.freshness.witness_proto import WitnessKeys, WitnessRow
from coffer.vault.app import create_app
from coffer.vault.errors import Stale, TooManyWriters
from coffer.vault.protocol import VaultCore
from coffer.vault.seal import KeyFileSealer
from coffer.vault.server import init_vault
from coffer.vault.store import AuditContext, SqlStore
from coffer.vault.store_postgres import PostgresStore
from coffer.vault.store_sqlite import SqliteStore
from coffer.vault.witness import WitnessHandlers, rfc3339

from .vault_helpers import OPEN_LIMITS, OPEN_SETTINGS, new_pg_store
from .vault_nodes import Node

OWNER = WitnessKeys.derive(bytes(range(32)), b"repository one")
THIEF = WitnessKeys.derive(os.urandom(32), b"repository one")
W1, W2, W3 = "a1" * 16, "b2" * 16, "c3" * 16


def row(writer: str, seq: int, oid: str | None = None) -> WitnessRow:
    return WitnessRow(writer, seq, OWNER.digest(oid or f"{seq:064x}"))


@pytest.fixture
def witness(http: TestClient, core: VaultCore) -> WitnessClient:
    return WitnessClient("http://vault.test", pinned_key=core.setup.public_key, transport=http)


def post(http: TestClient, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    resp = http.post(path, json=body)
    return resp.status_code, resp.json()


def stored(http: TestClient) -> dict[str, Any]:
    status, body = post(http, "/v1/witness/read", wp.read_request(OWNER))
    assert status == 200
    return body


def test_info_advertises_the_witness(http: TestClient) -> None:
    assert http.get("/v1/info").json()["witness"] is True


def test_update_read_round_trip(witness: WitnessClient, http: TestClient) -> None:
    assert witness.read(OWNER) == []
    assert stored(http) == {"public_key": None, "rows": []}
    assert witness.update(OWNER, row(W1, 1)) == 1
    assert witness.update(OWNER, row(W2, 5)) == 5
    before = int(time.time())
    assert witness.update(OWNER, row(W1, 3)) == 3
    after = time.time()
    assert witness.read(OWNER) == [row(W1, 3), row(W2, 5)]
    [signed, _] = witness.read_signed(OWNER)
    assert signed.signature == wp.sign_row(OWNER, row(W1, 3))
    when = calendar.timegm(time.strptime(signed.updated, "%Y-%m-%dT%H:%M:%SZ"))
    assert before <= when <= after  # the vault's clock at the update, in UTC
    # another repository of the same owner is another witness
    other = WitnessKeys.derive(bytes(range(32)), b"repository two")
    assert witness.read(other) == []


def test_a_retried_update_is_success_for_the_client(witness: WitnessClient) -> None:
    witness.update(OWNER, row(W1, 4))
    assert witness.update(OWNER, row(W1, 4)) == 4  # the vault said stale, stored_seq 4
    assert witness.update(OWNER, row(W1, 2)) == 4  # someone newer already got there
    assert witness.read(OWNER) == [row(W1, 4)]


def _refused(http: TestClient, body: dict[str, Any], status: int, code: str) -> dict[str, Any]:
    before = stored(http)
    got, answer = post(http, "/v1/witness/update", body)
    assert (got, answer["error"]) == (status, code), answer
    assert stored(http) == before  # the record is unchanged
    return answer


def test_forged_signature_is_403_and_registers_nothing(http: TestClient) -> None:
    body = wp.update_request(OWNER, row(W1, 1))
    body["signature"] = wp.b64e(THIEF.sign(wp.row_message(OWNER.witness_id, row(W1, 1))))
    _refused(http, body, 403, "bad_signature")
    assert stored(http)["public_key"] is None  # a forged first update does not register a key


def test_forged_and_altered_rows_are_403_and_change_nothing(http: TestClient) -> None:
    assert post(http, "/v1/witness/update", wp.update_request(OWNER, row(W1, 2)))[0] == 200
    good = wp.update_request(OWNER, row(W1, 9))
    for name, value in (
        ("seq", 10),  # signature over seq 9
        ("writer", W2),
        ("digest", wp.b64e(OWNER.digest("ab" * 32))),
        ("signature", wp.b64e(bytes(64))),
    ):
        _refused(http, dict(good, **{name: value}), 403, "bad_signature")
    # a row signed for another witness ID, replayed against this one
    other = WitnessKeys.derive(bytes(range(32)), b"repository two")
    moved = wp.update_request(other, row(W1, 9))
    moved.update(witness_id=good["witness_id"], public_key=good["public_key"])
    _refused(http, moved, 403, "bad_signature")
    assert stored(http)["rows"][0]["seq"] == 2


def test_another_key_is_key_mismatch(http: TestClient) -> None:
    assert post(http, "/v1/witness/update", wp.update_request(OWNER, row(W1, 2)))[0] == 200
    # correctly signed with the thief's own key, aimed at the owner's witness ID
    body = wp.update_request(THIEF, row(W1, 99))
    body["witness_id"] = wp.b64e(OWNER.witness_id)
    body["signature"] = wp.b64e(THIEF.sign(wp.row_message(OWNER.witness_id, row(W1, 99))))
    _refused(http, body, 403, "key_mismatch")


def test_squatted_witness_is_a_protocol_error_for_the_owner(
    http: TestClient, witness: WitnessClient
) -> None:
    body = wp.update_request(THIEF, row(W1, 99))
    body["witness_id"] = wp.b64e(OWNER.witness_id)
    body["signature"] = wp.b64e(THIEF.sign(wp.row_message(OWNER.witness_id, row(W1, 99))))
    assert post(http, "/v1/witness/update", body)[0] == 200
    with pytest.raises(WitnessProtocolError, match="another public key"):
        witness.read(OWNER)
    with pytest.raises(WitnessRefused) as info:
        witness.update(OWNER, row(W1, 1))
    assert (info.value.reason, info.value.status) == ("key_mismatch", 403)


def test_replayed_and_backwards_updates_are_409_stale(http: TestClient) -> None:
    first = wp.update_request(OWNER, row(W1, 5, "aa" * 32))
    assert post(http, "/v1/witness/update", first)[0] == 200
    assert post(http, "/v1/witness/update", wp.update_request(OWNER, row(W2, 1)))[0] == 200
    answer = _refused(http, first, 409, "stale")  # the very same request again
    assert answer["stored_seq"] == 5
    older = wp.update_request(OWNER, row(W1, 4, "bb" * 32))
    assert _refused(http, older, 409, "stale")["stored_seq"] == 5
    same_seq_other_object = wp.update_request(OWNER, row(W1, 5, "cc" * 32))
    _refused(http, same_seq_other_object, 409, "stale")
    rows = stored(http)["rows"]
    assert [(r["writer"], r["seq"]) for r in rows] == [(W1, 5), (W2, 1)]
    assert rows[0]["digest"] == wp.b64e(OWNER.digest("aa" * 32))


@pytest.mark.parametrize(
    "change",
    [
        {"writer": W1.upper()},  # one writer, one spelling: no second row beside the first
        {"seq": 0},
        {"seq": 2**53},
        {"seq": "3"},
        {"seq": 3.0},
        {"witness_id": "AAAA"},
        {"public_key": None},
        {"signature": "not base64!"},
    ],
)
def test_malformed_updates_are_400(http: TestClient, change: dict[str, Any]) -> None:
    body = {**wp.update_request(OWNER, row(W1, 3)), **change}
    _refused(http, {k: v for k, v in body.items() if v is not None}, 400, "bad_request")


def test_malformed_reads_are_400(http: TestClient) -> None:
    for body in ({}, {"witness_id": "AAAA"}, {"witness_id": 5}):
        status, answer = post(http, "/v1/witness/read", body)
        assert (status, answer["error"]) == (400, "bad_request")
    assert http.get("/v1/witness/read").status_code == 405


def test_writers_are_capped_per_witness(store: SqlStore) -> None:
    assert wp.MAX_WRITERS == 4096
    handlers = WitnessHandlers(store, time.time, max_writers=3)
    ctx = AuditContext("test", "test")
    for i in range(3):
        handlers.update(wp.update_request(OWNER, row(f"{i:032x}", 1)), ctx)
    with pytest.raises(TooManyWriters) as info:
        handlers.update(wp.update_request(OWNER, row("ff" * 16, 1)), ctx)
    assert info.value.status == 409 and info.value.extra == {"max_writers": 3}
    handlers.update(wp.update_request(OWNER, row(f"{0:032x}", 2)), ctx)  # known writers go on
    assert len(handlers.read(wp.read_request(OWNER), ctx)["rows"]) == 3


def test_the_vault_logs_no_witness_id(http: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    body = wp.update_request(OWNER, row(W1, 1))
    post(http, "/v1/witness/update", body)
    post(http, "/v1/witness/update", body)  # refused as stale: still nothing secret
    post(http, "/v1/witness/read", wp.read_request(OWNER))
    logged = caplog.text + repr(wp.parse_update_request(body))
    assert body["witness_id"] not in logged and OWNER.witness_id.hex() not in logged


def test_rfc3339() -> None:
    assert rfc3339(1764620100.75) == "2025-12-01T20:15:00Z"


# -- races -------------------------------------------------------------------------------------
def _race(update: Any, writers: list[str], per_writer: int) -> None:
    """Every writer's updates 1..per_writer from two threads each (interleaved, some out of
    order), all threads released at once."""
    jobs = [(w, list(range(1 + k, per_writer + 1, 2))) for w in writers for k in (0, 1)]
    barrier = threading.Barrier(len(jobs))

    def run(job: tuple[str, list[int]]) -> None:
        writer, seqs = job
        barrier.wait()
        for seq in seqs:
            update(row(writer, seq))

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        list(pool.map(run, jobs))


def test_racing_writers_lose_no_update(store: SqlStore) -> None:
    handlers = WitnessHandlers(store, time.time)
    ctx = AuditContext("race", "race")

    def update(r: WitnessRow) -> None:
        try:
            handlers.update(wp.update_request(OWNER, r), ctx)
        except Stale:
            pass

    _race(update, [W1, W2], 30)
    rows = handlers.read(wp.read_request(OWNER), ctx)["rows"]
    assert [(r["writer"], r["seq"]) for r in rows] == [(W1, 30), (W2, 30)]
    for r in rows:
        assert wp.verify_row(
            OWNER.public_key,
            OWNER.witness_id,
            WitnessRow(r["writer"], r["seq"], wp.b64d(r["digest"], "digest", 32)),
            wp.b64d(r["signature"], "signature", 64),
        )


@pytest.fixture
def pg_nodes(pg_dsn: str, tmp_path: Path) -> Iterator[tuple[PostgresStore, list[str], bytes]]:
    store = new_pg_store(pg_dsn)
    key_file = tmp_path / "seal.key"
    setup = init_vault(store, KeyFileSealer.create(key_file), settings=OPEN_SETTINGS)
    nodes = [
        Node(pg_dsn, key_file, schema=store.schema, name=f"n{i}", log=tmp_path / f"n{i}.log")
        for i in range(2)
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


@pytest.mark.integration
@pytest.mark.slow
def test_writers_racing_through_two_postgres_nodes_lose_no_update(
    pg_nodes: tuple[PostgresStore, list[str], bytes],
) -> None:
    _, urls, key = pg_nodes
    local = threading.local()

    def update(r: WitnessRow) -> None:
        if not hasattr(local, "client"):
            n = threading.get_ident() % len(urls)
            local.client = WitnessClient(urls[n], pinned_key=key, timeout=60.0)
        assert local.client.update(OWNER, r) >= r.seq

    _race(update, [W1, W2, W3], 20)
    reader = WitnessClient(urls[0], pinned_key=key)
    assert [(r.writer, r.seq) for r in reader.read(OWNER)] == [(W1, 20), (W2, 20), (W3, 20)]


@pytest.mark.integration
@pytest.mark.slow
def test_writers_racing_on_a_sqlite_node_lose_no_update(tmp_path: Path) -> None:
    db = tmp_path / "vault.db"
    store = SqliteStore(db)
    setup = init_vault(store, KeyFileSealer.create(tmp_path / "seal.key"), settings=OPEN_SETTINGS)
    node = Node(str(db), tmp_path / "seal.key", log=tmp_path / "node.log")
    try:
        node.wait_ready()
        local = threading.local()

        def update(r: WitnessRow) -> None:
            if not hasattr(local, "client"):
                local.client = WitnessClient(node.url, pinned_key=setup.public_key, timeout=60.0)
            assert local.client.update(OWNER, r) >= r.seq

        _race(update, [W1, W2], 20)
        assert WitnessClient(node.url, pinned_key=setup.public_key).read(OWNER) == [
            row(W1, 20),
            row(W2, 20),
        ]
    finally:
        node.stop()
        store.close()


def test_one_app_serves_the_witness_on_both_stores(store: SqlStore, core: VaultCore) -> None:
    """The store fixture really is each backend (a guard against testing SQLite twice)."""
    assert isinstance(store, SqliteStore | PostgresStore)
    with TestClient(create_app(core, OPEN_LIMITS), base_url="http://vault.test") as tc:
        assert post(tc, "/v1/witness/read", wp.read_request(OWNER))[0] == 200
