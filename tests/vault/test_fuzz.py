"""Fuzzing: schemathesis against the served OpenAPI document (no 5xx), hypothesis on decoding."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import positive_data_acceptance

from coffer.vault import openapi, wire
from coffer.vault.app import create_app
from coffer.vault.errors import BadRequest, RequestRefused
from coffer.vault.protocol import VaultCore
from coffer.vault.seal import KeyFileSealer
from coffer.vault.server import init_vault, load_setup
from coffer.vault.store import AuditContext
from coffer.vault.store_sqlite import SqliteStore

from .vault_helpers import OPEN_LIMITS, SETTINGS


@pytest.fixture(scope="module")
def fuzz_core(tmp_path_factory: pytest.TempPathFactory) -> VaultCore:
    base: Path = tmp_path_factory.mktemp("fuzz")
    store = SqliteStore(base / "v.db")
    sealer = KeyFileSealer.create(base / "k")
    init_vault(store, sealer)
    return VaultCore(load_setup(store, sealer), store, SETTINGS, clock=time.time)


@pytest.fixture(scope="module")
def api_schema(fuzz_core: VaultCore) -> Any:
    return schemathesis.openapi.from_asgi("/v1/openapi.json", create_app(fuzz_core, OPEN_LIMITS))


@pytest.mark.parametrize("path", sorted(openapi.PATHS))
def test_no_server_errors(api_schema: Any, path: str) -> None:
    """Schemathesis cases for one operation (bounded: 12 examples): no 5xx, and every answer
    matches the documented statuses and schemas."""
    [operation] = [r.ok() for r in api_schema.get_all_operations() if r.ok().path == path]
    statuses: list[int] = []

    @given(case=operation.as_strategy())
    @settings(
        max_examples=12,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case: Any) -> None:
        # Every default check (no 5xx, documented status codes, content type, response schema,
        # negative data rejected) except positive_data_acceptance: a schema-valid 32-byte
        # string is usually not a valid ristretto255 element, and the vault must refuse it.
        response = case.call_and_validate(excluded_checks=[positive_data_acceptance])
        statuses.append(response.status_code)
        assert response.status_code < 500, (case.path, response.status_code, response.text)

    run()
    assert statuses


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
b64_strings = st.binary(max_size=400).map(wire.b64e)
fields = st.sampled_from(
    [
        "account",
        "ke1",
        "ke3",
        "attempt_id",
        "record",
        "sealed_secret",
        "ksf",
        "auth",
        "registration_request",
        "registration_id",
        "grant_id",
    ]
)
bodies = st.dictionaries(fields, json_values | b64_strings | st.just("alice"), max_size=8)


@given(st.text(max_size=200))
def test_b64_decoder_total(text: str) -> None:
    try:
        data = wire.b64d(text)
    except ValueError:
        return
    assert wire.b64d(wire.b64e(data)) == data


@given(st.binary(max_size=300))
def test_b64_round_trip(data: bytes) -> None:
    assert wire.b64d(wire.b64e(data)) == data
    assert "=" not in wire.b64e(data)


@given(json_values)
def test_ksf_descriptor_parser_only_raises_bad_request(value: Any) -> None:
    try:
        ksf = wire.ksf_from_json(value)
    except BadRequest:
        return
    assert wire.ksf_from_json(wire.ksf_to_json(ksf)) == ksf


@given(
    bodies,
    st.sampled_from(
        [
            "register_start",
            "register_finish",
            "recover_start",
            "recover_finish",
            "recover_abort",
            "password_change",
            "password_commit",
            "account_delete",
        ]
    ),
)
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_handlers_only_refuse(fuzz_core: VaultCore, body: dict[str, Any], name: str) -> None:
    handler = getattr(fuzz_core, name)
    try:
        out = handler(body, AuditContext("fuzz", "fuzz"))
    except RequestRefused as exc:
        assert 400 <= exc.status < 500
        return
    assert isinstance(out, dict)
