"""Key hierarchy: labels, HKDF derivation, KeyRing."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coffer.crypto.kdf import (
    MASTER_KEY_LEN,
    KeyRing,
    Label,
    derive_key,
    hkdf_info,
    new_master_key,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
RING_FIELDS = (
    "data",
    "index",
    "snapshot",
    "chunk_id",
    "config",
    "lock",
    "pack_header",
    "chunker",
    "files_cache",
)
MASTER = bytes(range(32))
REPO = b"\x42" * 32


def reference_hkdf(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 written out with the standard library's HMAC: an independent implementation."""
    prk = hmac.new(salt or b"\x00" * 32, ikm, hashlib.sha256).digest()
    okm, block = b"", b""
    for counter in range(1, -(-length // 32) + 1):
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        okm += block
    return okm[:length]


def test_reference_hkdf_matches_rfc5869_vector() -> None:
    vector = json.loads((VECTORS / "crypto-external.json").read_text())["hkdf_sha256"][0]
    okm = reference_hkdf(
        bytes.fromhex(vector["ikm"]),
        bytes.fromhex(vector["salt"]),
        bytes.fromhex(vector["info"]),
        vector["length"],
    )
    assert okm.hex() == vector["okm"]


@pytest.mark.parametrize("label", list(Label))
def test_derive_key_is_hkdf_sha256_with_the_label_as_info(label: Label) -> None:
    expected = reference_hkdf(MASTER, REPO, label.value.encode(), 32)
    assert derive_key(MASTER, label, salt=REPO) == expected


def test_context_is_appended_after_a_nul_byte() -> None:
    info = Label.SLOT_VAULT.value.encode() + b"\x00" + REPO
    assert hkdf_info(Label.SLOT_VAULT, REPO) == info
    assert derive_key(MASTER, Label.SLOT_VAULT, salt=b"s" * 32, context=REPO) == reference_hkdf(
        MASTER, b"s" * 32, info, 32
    )
    assert derive_key(MASTER, Label.SLOT_VAULT, context=REPO) != derive_key(
        MASTER, Label.SLOT_VAULT, context=REPO + b"\x00"
    )


def test_labels_are_unique_versioned_ascii_without_nul() -> None:
    values = [label.value for label in Label]
    assert len(set(values)) == len(values)
    for value in values:
        assert value.startswith("coffer/v1/")
        assert value.isascii() and "\x00" not in value


def test_distinct_labels_give_distinct_keys() -> None:
    keys = {label: derive_key(MASTER, label, salt=REPO) for label in Label}
    assert len(set(keys.values())) == len(keys)
    for a, b in itertools.combinations(Label, 2):
        assert keys[a] != keys[b]


def test_salt_and_length_change_the_output() -> None:
    base = derive_key(MASTER, Label.DATA)
    assert derive_key(MASTER, Label.DATA, salt=REPO) != base
    long = derive_key(MASTER, Label.DATA, length=64)
    assert len(long) == 64 and long[:32] == base


def test_label_must_be_a_registered_label() -> None:
    with pytest.raises(TypeError):
        derive_key(MASTER, "coffer/v1/data")  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [b"", b"x" * 31, "a" * 32])
def test_short_or_non_bytes_input_key_is_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        derive_key(bad, Label.DATA)  # type: ignore[arg-type]


def test_new_master_key_is_fresh_random_bytes() -> None:
    keys = {new_master_key() for _ in range(64)}
    assert len(keys) == 64
    assert all(isinstance(k, bytes) and len(k) == MASTER_KEY_LEN for k in keys)


def test_keyring_subkeys_are_the_labelled_derivations() -> None:
    ring = KeyRing.derive(MASTER, REPO)
    for name in RING_FIELDS:
        label = Label[name.upper()]
        assert getattr(ring, name) == derive_key(MASTER, label, salt=REPO)
    assert len({getattr(ring, n) for n in RING_FIELDS}) == len(RING_FIELDS)


@settings(deadline=None)
@given(st.binary(min_size=1, max_size=64), st.binary(min_size=1, max_size=64))
def test_keyring_subkeys_differ_per_repository(repo_a: bytes, repo_b: bytes) -> None:
    if repo_a == repo_b:
        return
    a, b = KeyRing.derive(MASTER, repo_a), KeyRing.derive(MASTER, repo_b)
    for name in RING_FIELDS:
        assert getattr(a, name) != getattr(b, name)


def test_keyring_differs_per_master_key() -> None:
    a, b = KeyRing.derive(MASTER, REPO), KeyRing.derive(new_master_key(), REPO)
    assert all(getattr(a, n) != getattr(b, n) for n in RING_FIELDS)


def test_keyring_repr_and_str_reveal_no_secret() -> None:
    ring = KeyRing.derive(MASTER, REPO)
    for text in (repr(ring), str(ring), f"{ring}", repr([ring])):
        assert "redacted" in text
        for name in RING_FIELDS:
            secret = getattr(ring, name)
            assert secret.hex() not in text and repr(secret) not in text


@pytest.mark.parametrize(("master", "repo"), [(b"x" * 31, REPO), (b"x" * 33, REPO), (MASTER, b"")])
def test_keyring_refuses_bad_inputs(master: bytes, repo: bytes) -> None:
    with pytest.raises(ValueError):
        KeyRing.derive(master, repo)
