"""The fast path's libpq connection binds parameters as their prepared types, on real PostgreSQL.

A statement is prepared with the parameter types of its first call; later calls whose values
have those types go binary (text for ``str``), and a value of another type, or ``None``, goes as
text — the server then parses it as the prepared type, or refuses it with a ``StoreError``."""

from __future__ import annotations

import asyncio

import pytest

from coffer.vault.errors import StoreError
from coffer.vault.pg_async import FastConn

SQL = "SELECT %s::int8, %s::float8, %s::text, %s::bytea, %s::bool"


def _run(dsn: str, calls: list[tuple[object, ...]]) -> list[object]:
    async def go() -> list[object]:
        conn = await FastConn.open(dsn, "public")
        out: list[object] = []
        try:
            for params in calls:
                try:
                    out.append(await conn.row(SQL, params))
                except StoreError as exc:
                    out.append(exc)
                    conn = await FastConn.open(dsn, "public")  # a failed one is closed
        finally:
            await conn.aclose()
        return out

    return asyncio.run(go())


def test_values_of_the_prepared_types_round_trip(pg_dsn: str) -> None:
    calls = [
        (1, 0.5, "a", b"\x00\x01", True),
        (-(2**63), float("inf"), "é ünïcode", b"", False),
        (2**63 - 1, -1e-300, "", bytes(range(256)), True),
    ]
    assert _run(pg_dsn, calls) == [tuple(c) for c in calls]


def test_values_of_other_types_go_as_text_and_none_as_null(pg_dsn: str) -> None:
    first = (7, 1.25, "x", b"y", False)
    rows = _run(pg_dsn, [first, (None, None, None, None, None), ("42", 3, 5, None, "true")])
    assert rows[0] == first
    assert rows[1] == (None, None, None, None, None)
    assert rows[2] == (42, 3.0, "5", None, True)


def test_a_value_the_server_cannot_parse_is_a_store_error(pg_dsn: str) -> None:
    rows = _run(pg_dsn, [(1, 1.0, "a", b"b", True), ("not a number", 1.0, "a", b"b", True)])
    assert rows[0] == (1, 1.0, "a", b"b", True)
    assert isinstance(rows[1], StoreError) and "int" in str(rows[1]).lower()


@pytest.mark.parametrize("big", [2**63, -(2**63) - 1])
def test_an_int_outside_int8_is_refused_not_wrapped(pg_dsn: str, big: int) -> None:
    rows = _run(pg_dsn, [(1, 1.0, "a", b"b", True), (big, 1.0, "a", b"b", True)])
    assert isinstance(rows[1], StoreError) and "out of range" in str(rows[1])
