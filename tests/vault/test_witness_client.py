"""coffer.freshness.witness_client against a real vault, and against the ways a witness fails:
unreachable, database down (503), rate limited (429), an older vault without the endpoints, a
vault operator who edits or forges rows, a vault that lies about ``stale``, the wrong vault key."""

from __future__ import annotations

import json
import os
import socket
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from coffer.freshness import witness_proto as wp
from coffer.freshness.errors import (
    WitnessError,
    WitnessProtocolError,
    WitnessRefused,
    WitnessUnavailable,
)
from coffer.freshness.witness_client import WitnessClient
from coffer.freshness.witness_proto import WitnessKeys, WitnessRow
from coffer.vault.app import HttpSettings, create_app
from coffer.vault.client import VaultClient as VaultClient
from coffer.vault.errors import RequestRefused
from coffer.vault.protocol import VaultCore
from coffer.vault.ratelimit import Limit
from coffer.vault.store import AuditContext, SqlStore
from coffer.vault.store_postgres import PostgresStore
from coffer.vault.witness import WitnessHandlers

OWNER = WitnessKeys.derive(os.urandom(32), b"repository")
W1 = "a1" * 16

ASGI = Callable[..., Any]


def row(seq: int) -> WitnessRow:
    return WitnessRow(W1, seq, OWNER.digest(f"{seq:064x}"))


def client_for(app: ASGI, core: VaultCore) -> Iterator[WitnessClient]:
    with TestClient(app, base_url="http://vault.test") as tc:
        yield WitnessClient("http://vault.test", pinned_key=core.setup.public_key, transport=tc)


@pytest.fixture
def witness(http: TestClient, core: VaultCore) -> WitnessClient:
    return WitnessClient("http://vault.test", pinned_key=core.setup.public_key, transport=http)


def test_every_failure_is_a_witness_error() -> None:
    for cls in (WitnessUnavailable, WitnessRefused, WitnessProtocolError):
        assert issubclass(cls, WitnessError) and cls.exit_code == 15


def test_unreachable_witness_is_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    client = WitnessClient(f"http://127.0.0.1:{port}", pinned_key=bytes(32), timeout=2.0)
    with pytest.raises(WitnessUnavailable, match="unreachable"):
        client.read(OWNER)
    with pytest.raises(WitnessUnavailable):
        client.update(OWNER, row(1))


def test_database_down_is_unavailable(store: SqlStore, witness: WitnessClient) -> None:
    witness.update(OWNER, row(1))
    if not isinstance(store, PostgresStore):
        pytest.skip("a database that goes away under a running node: the PostgreSQL schema")
    store.drop_schema()
    with pytest.raises(WitnessUnavailable, match="HTTP 503"):
        witness.update(OWNER, row(2))
    with pytest.raises(WitnessUnavailable, match="HTTP 503"):
        witness.read(OWNER)
    store.create_schema()  # for the fixture's teardown


def test_rate_limited_is_unavailable_with_retry_after(core: VaultCore) -> None:
    slow = HttpSettings(per_address=Limit(0.01, 3), per_account=Limit(0, 0))
    for client in client_for(create_app(core, slow), core):
        client.update(OWNER, row(1))  # /v1/info and one update: two tokens
        client.read(OWNER)
        with pytest.raises(WitnessUnavailable, match="rate limiting") as info:
            client.read(OWNER)
        assert info.value.retry_after is not None and info.value.retry_after >= 1


def test_wrong_vault_key_sends_nothing(witness: WitnessClient, http: TestClient) -> None:
    impostor = WitnessClient("http://vault.test", pinned_key=bytes(32), transport=http)
    with pytest.raises(WitnessProtocolError, match="expected"):
        impostor.update(OWNER, row(1))
    assert witness.read(OWNER) == []  # the update never reached the vault


class _WithoutWitness:
    """An older vault: the real app with the witness paths answered as unknown (404)."""

    def __init__(self, app: ASGI) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v1/witness/"):
            scope = dict(scope, path="/v1/no-such-path", raw_path=b"/v1/no-such-path")
        await self.app(scope, receive, send)


def test_an_older_vault_refuses_with_no_witness(core: VaultCore) -> None:
    for client in client_for(_WithoutWitness(create_app(core)), core):
        with pytest.raises(WitnessRefused, match="does not offer a witness") as info:
            client.read(OWNER)
        assert (info.value.reason, info.value.status) == ("no_witness", 404)


class _Rewriting:
    """A vault that lies: the real app, with ``path``'s JSON answer passed through ``edit``."""

    def __init__(
        self, app: ASGI, path: str, edit: Callable[[int, dict[str, Any]], tuple[int, Any]]
    ) -> None:
        self.app, self.path, self.edit = app, path, edit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        parts: list[Any] = []

        async def keep(message: Any) -> None:
            parts.append(message)

        await self.app(scope, receive, keep)
        body = b"".join(m.get("body", b"") for m in parts if m["type"] == "http.response.body")
        status, answer = self.edit(parts[0]["status"], json.loads(body))
        data = json.dumps(answer).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(data))]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})


def _lying(
    core: VaultCore, path: str, edit: Callable[[int, dict[str, Any]], tuple[int, Any]]
) -> Iterator[WitnessClient]:
    return client_for(_Rewriting(create_app(core), path, edit), core)


def test_rows_edited_by_the_operator_are_refused(store: SqlStore, witness: WitnessClient) -> None:
    witness.update(OWNER, row(3))
    with store._tx() as cur:  # the operator moves the row forward without the owner's key
        store._run(cur, "UPDATE witness_rows SET seq = 9")
    with pytest.raises(WitnessProtocolError, match="did not sign"):
        witness.read(OWNER)


def test_a_stale_answer_without_a_signed_row_that_new_is_not_a_delivery(
    store: SqlStore, witness: WitnessClient
) -> None:
    """review Q5: the operator moves the stored seq forward without the owner's key; the
    owner's next update is then "stale" — which must not count as delivered."""
    witness.update(OWNER, row(3))
    with store._tx() as cur:
        store._run(cur, "UPDATE witness_rows SET seq = 9")
    with pytest.raises(WitnessProtocolError, match="did not sign"):
        witness.update(OWNER, row(4))


@pytest.mark.parametrize(
    "edit",
    [
        lambda s, b: (s, {**b, "rows": [{**b["rows"][0], "writer": "b2" * 16}]}),  # moved row
        lambda s, b: (s, {**b, "rows": b["rows"] * 2}),  # one writer twice
        lambda s, b: (s, {**b, "public_key": None}),
        lambda s, b: (s, {**b, "public_key": wp.b64e(OWNER.witness_id)}),  # another key
        lambda s, b: (s, {"rows": "none"}),
        lambda s, b: (s, ["not", "an", "object"]),
    ],
)
def test_malformed_or_forged_read_answers_are_protocol_errors(
    core: VaultCore, witness: WitnessClient, edit: Callable[[int, dict[str, Any]], Any]
) -> None:
    witness.update(OWNER, row(2))
    for client in _lying(core, "/v1/witness/read", edit):
        with pytest.raises(WitnessProtocolError):
            client.read(OWNER)


@pytest.mark.parametrize(
    "edit",
    [
        lambda s, b: (409, {"error": "stale", "message": "x", "stored_seq": 1}),  # lower
        lambda s, b: (409, {"error": "stale", "message": "x"}),
        lambda s, b: (200, {"writer": W1, "seq": 4}),  # another seq confirmed
        lambda s, b: (200, {"writer": "b2" * 16, "seq": 5}),
        lambda s, b: (200, {}),
    ],
)
def test_lying_update_answers_are_protocol_errors(
    core: VaultCore, edit: Callable[[int, dict[str, Any]], Any]
) -> None:
    for client in _lying(core, "/v1/witness/update", edit):
        with pytest.raises(WitnessProtocolError):
            client.update(OWNER, row(5))


def test_refusals_carry_reason_and_body(witness: WitnessClient, http: TestClient) -> None:
    thief = WitnessKeys.derive(os.urandom(32), b"repository")
    body = wp.update_request(thief, row(1))
    body["witness_id"] = wp.b64e(OWNER.witness_id)
    body["signature"] = wp.b64e(thief.sign(wp.row_message(OWNER.witness_id, row(1))))
    assert http.post("/v1/witness/update", json=body).status_code == 200
    with pytest.raises(WitnessRefused) as info:
        witness.update(OWNER, row(2))
    assert (info.value.reason, info.value.status, info.value.body["error"]) == (
        "key_mismatch",
        403,
        "key_mismatch",
    )
    text = str(info.value) + repr(info.value)
    assert wp.b64e(OWNER.witness_id) not in text and OWNER.witness_id.hex() not in text


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
fields = st.sampled_from(["witness_id", "public_key", "writer", "seq", "digest", "signature"])
valid = wp.update_request(OWNER, row(7))
values = st.one_of(
    json_values,
    st.binary(max_size=80).map(wp.b64e),
    st.sampled_from(list(valid.values())),
    st.integers(min_value=-3, max_value=2**64),
)
bodies = st.dictionaries(fields, values, max_size=6)


@given(bodies, st.sampled_from(["update", "read"]))
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_witness_handlers_only_refuse(store: SqlStore, body: dict[str, Any], name: str) -> None:
    handler = getattr(WitnessHandlers(store, time.time), name)
    try:
        out = handler(body, AuditContext("fuzz", "fuzz"))
    except RequestRefused as exc:
        assert 400 <= exc.status < 500
        return
    assert isinstance(out, dict)


def test_over_a_vault_client_shares_its_pin_and_connection(
    client: VaultClient, core: VaultCore, http: TestClient
) -> None:
    shared = WitnessClient.over(client)
    assert shared.update(OWNER, row(3)) == 3
    assert shared.read(OWNER) == [row(3)]
    shared.close()
    assert client.info().public_key == core.setup.public_key  # the vault client is still open
    wrong = VaultClient("http://vault.test", pinned_key=bytes(32), transport=http)
    with pytest.raises(WitnessProtocolError, match="expected"):
        WitnessClient.over(wrong).read(OWNER)
