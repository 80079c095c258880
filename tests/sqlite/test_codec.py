"""The value encoding: round trips, canonical form, strict decoding (hypothesis)."""

from __future__ import annotations

import io
import math
import sqlite3
import struct
from contextlib import closing
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coffer.sqlite.codec import (
    LogicalFormatError,
    RawText,
    RecordReader,
    RecordWriter,
    decode_values,
    encode_values,
    varint,
)
from coffer.sqlite.logical import canonical_dump

sql_values = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.text(),
    st.binary(max_size=300),
)


def same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return struct.pack(">d", a) == struct.pack(">d", b)
    return type(a) is type(b) and a == b


@settings(deadline=None)  # no per-example deadline on a loaded CI machine
@given(st.lists(sql_values, max_size=20))
def test_values_round_trip_exactly(values: list[object]) -> None:
    encoded = encode_values(values)
    decoded = decode_values(bytes(encoded))
    assert len(decoded) == len(values)
    assert all(same(a, b) for a, b in zip(values, decoded, strict=True))
    assert encode_values(decoded) == encoded


@settings(deadline=None)  # no per-example deadline on a loaded CI machine
@given(st.lists(sql_values, max_size=8), st.lists(sql_values, max_size=8))
def test_a_row_encodes_the_same_whatever_surrounds_it(a: list[object], b: list[object]) -> None:
    assert encode_values(a + b) == encode_values(a) + encode_values(b)


@settings(deadline=None)  # no per-example deadline on a loaded CI machine
@given(st.binary(max_size=64))
def test_any_accepted_bytes_are_canonical(data: bytes) -> None:
    try:
        decoded = decode_values(data)
    except LogicalFormatError:
        return
    assert encode_values(decoded) == data


def test_integer_boundaries_use_the_fewest_bytes() -> None:
    for value, size in [(0, 1), (127, 1), (128, 2), (-128, 1), (-129, 2), (2**63 - 1, 8)]:
        assert len(encode_values([value])) == 1 + size
    with pytest.raises(LogicalFormatError):
        decode_values(b"\x02\x00\x05")  # 5 padded to two bytes
    with pytest.raises(LogicalFormatError):
        decode_values(b"\x0a\x80\x00")  # non-minimal varint length
    with pytest.raises(ValueError):
        encode_values([2**63])


def test_special_reals_and_raw_text() -> None:
    values = [-0.0, math.inf, -math.inf, 5e-324, RawText(b"\xff\xfe")]
    decoded = decode_values(bytes(encode_values(values)))
    assert all(same(a, b) for a, b in zip(values[:4], decoded[:4], strict=True))
    assert type(decoded[4]) is RawText and decoded[4] == b"\xff\xfe"
    nan = decode_values(bytes(encode_values([math.nan])))[0]
    assert isinstance(nan, float) and math.isnan(nan)


@settings(deadline=None)  # no per-example deadline on a loaded CI machine
@given(st.lists(st.binary(max_size=3000), max_size=30), st.integers(1, 4096))
def test_records_survive_any_read_size(payloads: list[bytes], piece: int) -> None:
    out = io.BytesIO()
    writer = RecordWriter(out)
    for p in payloads:
        writer.write(0x52, p)
    writer.flush()

    class Trickle(io.BytesIO):
        def read(self, n: int = -1) -> bytes:
            return super().read(min(n, piece))

    reader = RecordReader(Trickle(out.getvalue()))
    assert [p for _, p in reader.records()] == payloads
    assert reader.bytes_read == len(out.getvalue()) == writer.bytes_written
    assert varint(300) == b"\xac\x02"


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(st.tuples(sql_values, sql_values), max_size=15))
def test_database_round_trip_of_arbitrary_values(tmp_path: Path, rows, make, trip) -> None:
    for f in tmp_path.glob("*.db"):
        f.unlink()
    db = make(tmp_path / "src.db", "CREATE TABLE t (a, b);")
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.executemany("INSERT INTO t VALUES (?, ?)", rows)
    trip(db, tmp_path / "restored.db")
    assert len(list(canonical_dump(db))) >= len(rows)


TYPES = ["", "INTEGER", "TEXT", "REAL", "BLOB", "NUMERIC", "INT", "VARCHAR(10)"]


@st.composite
def random_schema(draw) -> list[tuple[str, str, list[tuple[object, ...]]]]:
    """Tables with random declared types, rowid / INTEGER PRIMARY KEY / WITHOUT ROWID, rows."""
    tables = []
    for t in range(draw(st.integers(1, 3))):
        ncols = draw(st.integers(1, 4))
        types = [draw(st.sampled_from(TYPES)) for _ in range(ncols)]
        shape = draw(st.sampled_from(["rowid", "ipk", "without"]))
        cols = [f"c{i} {ty}".strip() for i, ty in enumerate(types)]
        if shape == "ipk":
            cols[0] = "c0 INTEGER PRIMARY KEY"
        tail = ")"
        if shape == "without":
            cols.append("PRIMARY KEY (c0)")
            tail = ") WITHOUT ROWID"
        sql = f"CREATE TABLE t{t} ({', '.join(cols)}{tail}"
        nrows = draw(st.integers(0, 6))
        # keys exactly representable as REAL, so affinity never merges two of them
        keys = draw(st.lists(st.integers(-(2**50), 2**50), min_size=nrows, max_size=nrows,
                             unique=True))  # fmt: skip
        rows = [(k, *(draw(sql_values) for _ in range(ncols - 1))) for k in keys]
        tables.append((f"t{t}", sql, rows))
    return tables


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(schema=random_schema())
def test_random_schemas_round_trip(tmp_path: Path, schema, make, trip) -> None:
    for f in tmp_path.glob("*.db*"):
        f.unlink()
    db = make(tmp_path / "src.db", ";".join(sql for _, sql, _ in schema))
    with closing(sqlite3.connect(db)) as conn, conn:
        for name, _, rows in schema:
            if rows:
                marks = ", ".join("?" * len(rows[0]))
                conn.executemany(f"INSERT INTO {name} VALUES ({marks})", rows)
    trip(db, tmp_path / "restored.db")
