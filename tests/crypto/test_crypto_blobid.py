"""Blob IDs: keyed BLAKE3 of the plaintext."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coffer.crypto.blobid import BLOB_ID_LEN, blob_id, verify_blob_id
from coffer.errors import IntegrityError

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
KEY = bytes(range(32))


@pytest.mark.parametrize(
    "vector", json.loads((VECTORS / "crypto-external.json").read_text())["blake3_keyed"]
)
def test_official_blake3_keyed_vectors(vector: dict[str, object]) -> None:
    data = bytes(i % 251 for i in range(int(str(vector["input_len"]))))
    assert blob_id(bytes.fromhex(str(vector["key"])), data).hex() == vector["hash"]


@settings(deadline=None)
@given(st.binary(max_size=4096))
def test_deterministic_fixed_length_and_buffer_agnostic(data: bytes) -> None:
    expected = blob_id(KEY, data)
    assert len(expected) == BLOB_ID_LEN
    assert blob_id(KEY, memoryview(data)) == expected
    assert blob_id(KEY, bytearray(data)) == expected


def test_id_depends_on_the_key_and_the_content() -> None:
    assert blob_id(KEY, b"chunk") != blob_id(bytes(32), b"chunk")
    assert blob_id(KEY, b"chunk") != blob_id(KEY, b"chunk.")


def test_verify_blob_id() -> None:
    ident = blob_id(KEY, b"media file chunk")
    verify_blob_id(KEY, b"media file chunk", ident)
    with pytest.raises(IntegrityError):
        verify_blob_id(KEY, b"media file chunK", ident)


@pytest.mark.parametrize("key", [b"", b"k" * 16, b"k" * 33])
def test_key_must_be_32_bytes(key: bytes) -> None:
    with pytest.raises(ValueError):
        blob_id(key, b"x")
