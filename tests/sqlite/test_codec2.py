"""Format version 2 row blocks against tests/vectors/sqlite-stream-v2.json, and round trips."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coffer.sqlite.codec import LogicalFormatError, RawText
from coffer.sqlite.codec2 import decode_block, encode_block
from coffer.sqlite.logical import canonical_dump, restore_logical

VECTORS = json.loads(
    (Path(__file__).resolve().parent.parent / "vectors" / "sqlite-stream-v2.json").read_text()
)


def untag(value: Any) -> Any:
    if value is None:
        return None
    ((kind, raw),) = value.items()
    return {
        "int": lambda: raw,
        "real": lambda: float.fromhex(raw),
        "text": lambda: raw,
        "raw_text": lambda: RawText(bytes.fromhex(raw)),
        "blob": lambda: bytes.fromhex(raw),
    }[kind]()


@pytest.mark.parametrize("case", VECTORS["blocks"], ids=lambda c: c["payload"][:24])
def test_block_vectors_encode_and_decode(case: dict[str, Any]) -> None:
    rows = [[untag(v) for v in row] for row in case["rows"]]
    payload = bytes.fromhex(case["payload"])
    assert encode_block(rows) == payload
    decoded, raw = decode_block(payload)
    assert raw == any(type(v) is RawText for row in rows for v in row)
    assert [[_key(v) for v in row] for row in decoded] == [[_key(v) for v in row] for row in rows]


def _key(v: Any) -> Any:
    return (type(v).__name__, v.hex() if isinstance(v, float) else v)


@pytest.mark.parametrize("case", VECTORS["bad_blocks"], ids=lambda c: c["why"])
def test_bad_blocks_are_refused(case: dict[str, str]) -> None:
    with pytest.raises(LogicalFormatError):
        decode_block(bytes.fromhex(case["payload"]))


def test_stream_vector_restores_to_its_canonical_dump(tmp_path: Path) -> None:
    stream = bytes.fromhex(VECTORS["stream"]["hex"])
    restore_logical(io.BytesIO(stream), tmp_path / "v.db")
    assert list(canonical_dump(tmp_path / "v.db")) == VECTORS["stream"]["canonical"]


def test_a_map_inside_a_row_fails_the_rebuild(tmp_path: Path) -> None:
    stream = bytes.fromhex(VECTORS["stream"]["hex"])
    row = msgspec.msgpack.encode([1, "family"])
    assert row in stream
    bad = stream.replace(row, msgspec.msgpack.encode([1, {"a": 1}]), 1)
    with pytest.raises(LogicalFormatError):
        restore_logical(io.BytesIO(bad), tmp_path / "v.db")
    assert not (tmp_path / "v.db").exists()


VALUES = st.one_of(
    st.none(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False),
    st.text(),
    st.binary(),
    st.binary(min_size=1).filter(lambda b: not _utf8(b)).map(RawText),
)


def _utf8(b: bytes) -> bool:
    try:
        b.decode()
    except UnicodeDecodeError:
        return False
    return True


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(VALUES, max_size=6), max_size=12))
def test_blocks_round_trip_canonically(rows: list[list[Any]]) -> None:
    payload = encode_block(rows)
    decoded, _raw = decode_block(payload)
    assert encode_block(decoded) == payload
    assert [[_key(v) for v in r] for r in decoded] == [[_key(v) for v in r] for r in rows]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(VALUES, max_size=6), min_size=1, max_size=40))
def test_whole_block_is_the_row_by_row_block(rows: list[list[Any]]) -> None:
    from coffer.sqlite.codec2 import whole_block

    assert whole_block(rows) == encode_block(rows)


def test_block_with_rows_of_the_wrong_width_is_rejected(tmp_path: Path, make, dump) -> None:
    """Rows are bound 32 to a statement: a short row and a long one must not pass as two rows."""
    from coffer.sqlite.codec import RecordReader, record
    from coffer.sqlite.codec2 import TAG_BLOCK

    db = make(tmp_path / "src.db", "CREATE TABLE t (a, b, c);")  # rows: rowid, a, b, c
    with sqlite3.connect(db) as conn:
        rows = [(i, i, i, 1000 + i) for i in range(64)]  # shifted, each value still fits a column
        conn.executemany("INSERT INTO t (rowid, a, b, c) VALUES (?, ?, ?, ?)", rows)
    conn.close()
    stream = dump(db)
    reader = RecordReader(io.BytesIO(stream))
    out = bytearray(reader.exact(len(b"coffer-sqlite-logical\n")))
    for tag, payload in reader.records():
        if tag == TAG_BLOCK:
            rows, _ = decode_block(payload)
            rows[0].append(rows[1].pop())  # widths 5 and 3, the same number of values
            payload = encode_block(rows)
        out += record(tag, payload)
    with pytest.raises(LogicalFormatError):
        restore_logical(io.BytesIO(bytes(out)), tmp_path / "bad.db")
    assert not (tmp_path / "bad.db").exists()
