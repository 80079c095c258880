"""Property tests: ranged reads and names behave the same on memory and local backends."""

from __future__ import annotations

import tempfile

from hypothesis import given, settings
from hypothesis import strategies as st

from coffer.backends.base import ObjectType, ShortRead, check_name
from coffer.backends.local import LocalBackend
from coffer.backends.memory import MemoryBackend

NAME = "ab" * 32


@settings(max_examples=150, deadline=None)
@given(
    data=st.binary(max_size=300),
    offset=st.integers(min_value=0, max_value=400),
    length=st.one_of(st.none(), st.integers(min_value=0, max_value=400)),
)
def test_ranged_read_is_a_slice_or_a_short_read(
    data: bytes, offset: int, length: int | None
) -> None:
    end = len(data) if length is None else offset + length
    expect_short = offset > len(data) or end > len(data)
    with tempfile.TemporaryDirectory() as tmp:
        for backend in (MemoryBackend(), LocalBackend(tmp)):
            backend.save(ObjectType.DATA, NAME, data)
            try:
                got = backend.load(ObjectType.DATA, NAME, offset, length)
            except ShortRead:
                assert expect_short, (backend, offset, length, len(data))
            else:
                assert not expect_short
                assert got == data[offset:end]


@given(st.text(max_size=70))
def test_only_lower_hex_64_names_pass(name: str) -> None:
    ok = len(name) == 64 and all(c in "0123456789abcdef" for c in name)
    try:
        check_name(ObjectType.INDEX, name)
    except ValueError:
        assert not ok
    else:
        assert ok
