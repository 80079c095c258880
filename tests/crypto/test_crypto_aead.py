"""Sealing: round trips, layout, tamper detection, object identity as associated data."""

from __future__ import annotations

import json
from pathlib import Path

import pysodium
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coffer.crypto.aead import (
    NONCE_LEN,
    SEAL_OVERHEAD,
    _hchacha20,
    _ietf_nonce,
    _seal_with_nonce,
    _xchacha,
    object_ad,
    open_sealed,
    seal,
)
from coffer.errors import CofferError, IntegrityError

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
KEY = bytes(range(32))
REPO = b"\x07" * 32
AD = object_ad("data", "ab" * 32, REPO)


def test_overhead_is_version_nonce_and_tag() -> None:
    assert SEAL_OVERHEAD == 1 + 24 + 16


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=2048), st.binary(max_size=128))
def test_round_trip(plaintext: bytes, ad: bytes) -> None:
    sealed = seal(KEY, plaintext, ad)
    assert len(sealed) == len(plaintext) + SEAL_OVERHEAD
    assert sealed[0] == 0x01
    assert open_sealed(KEY, sealed, ad) == plaintext


def test_buffers_are_accepted() -> None:
    plaintext = bytearray(b"chat history" * 100)
    sealed = seal(KEY, memoryview(plaintext), AD)
    assert open_sealed(KEY, memoryview(bytearray(sealed)), AD) == bytes(plaintext)


def test_every_seal_uses_a_fresh_nonce() -> None:
    sealed = [seal(KEY, b"same", AD) for _ in range(200)]
    assert len({s[1 : 1 + NONCE_LEN] for s in sealed}) == 200
    assert len(set(sealed)) == 200


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=3000), st.binary(max_size=100), st.binary(min_size=24, max_size=24))
def test_sealed_body_is_libsodium_xchacha20poly1305_ietf(
    plaintext: bytes, ad: bytes, nonce: bytes
) -> None:
    """Cross-check both ways against libsodium's own XChaCha20-Poly1305-IETF (via pysodium)."""
    sealed = _seal_with_nonce(KEY, plaintext, ad, nonce)
    reference = pysodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
        plaintext, b"\x01" + ad, nonce, KEY
    )
    assert sealed == b"\x01" + nonce + reference
    assert open_sealed(KEY, b"\x01" + nonce + reference, ad) == plaintext
    assert (
        pysodium.crypto_aead_xchacha20poly1305_ietf_decrypt(sealed[25:], b"\x01" + ad, nonce, KEY)
        == plaintext
    )


def draft_vector() -> dict[str, bytes]:
    v = json.loads((VECTORS / "crypto-external.json").read_text())["xchacha20poly1305_ietf"][0]
    return {
        k: bytes.fromhex(v[k]) for k in ("key", "nonce", "ad", "plaintext", "ciphertext_and_tag")
    }


def test_our_construction_matches_the_xchacha_draft_vector() -> None:
    v = draft_vector()
    aead = _xchacha(v["key"], v["nonce"])
    out = aead.encrypt(_ietf_nonce(v["nonce"]), v["plaintext"], v["ad"])
    assert out == v["ciphertext_and_tag"]


def test_libsodium_matches_the_xchacha_draft_vector() -> None:
    v = draft_vector()
    out = pysodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
        v["plaintext"], v["ad"], v["nonce"], v["key"]
    )
    assert out == v["ciphertext_and_tag"]


def test_hchacha20_matches_the_xchacha_draft_vector() -> None:
    v = json.loads((VECTORS / "crypto-external.json").read_text())["hchacha20"][0]
    assert _hchacha20(bytes.fromhex(v["key"]), bytes.fromhex(v["nonce"])).hex() == v["subkey"]


def test_every_flipped_bit_of_a_sealed_object_is_detected() -> None:
    sealed = seal(KEY, b"a short secret message", AD)
    for i in range(len(sealed) * 8):
        tampered = bytearray(sealed)
        tampered[i // 8] ^= 1 << (i % 8)
        with pytest.raises(IntegrityError):
            open_sealed(KEY, bytes(tampered), AD)


def test_every_flipped_bit_of_the_associated_data_is_detected() -> None:
    sealed = seal(KEY, b"payload", AD)
    for i in range(len(AD) * 8):
        ad = bytearray(AD)
        ad[i // 8] ^= 1 << (i % 8)
        with pytest.raises(IntegrityError):
            open_sealed(KEY, sealed, bytes(ad))


def test_truncation_and_extension_are_detected() -> None:
    sealed = seal(KEY, b"0123456789" * 3, AD)
    for n in range(len(sealed)):
        with pytest.raises(IntegrityError):
            open_sealed(KEY, sealed[:n], AD)
    with pytest.raises(IntegrityError):
        open_sealed(KEY, sealed + b"\x00", AD)
    with pytest.raises(IntegrityError):
        open_sealed(KEY, sealed, AD + b"\x00")


def test_wrong_key_is_an_integrity_error() -> None:
    sealed = seal(KEY, b"payload", AD)
    with pytest.raises(IntegrityError):
        open_sealed(bytes(32), sealed, AD)


def test_all_failures_share_one_message() -> None:
    sealed = seal(KEY, b"payload", AD)
    cases = [
        (KEY, sealed[:10], AD),
        (KEY, b"\x02" + sealed[1:], AD),
        (KEY, sealed[:-1] + bytes([sealed[-1] ^ 1]), AD),
        (bytes(32), sealed, AD),
        (KEY, sealed, b""),
    ]
    messages = set()
    for key, data, ad in cases:
        with pytest.raises(IntegrityError) as info:
            open_sealed(key, data, ad)
        messages.add(str(info.value))
    assert len(messages) == 1
    assert isinstance(info.value, CofferError) and info.value.exit_code == 12


@pytest.mark.parametrize("key", [b"", b"k" * 31, b"k" * 33, "k" * 32])
def test_bad_key_length_is_misuse_not_integrity(key: object) -> None:
    with pytest.raises(ValueError):
        seal(key, b"x", AD)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        open_sealed(key, b"\x01" + bytes(60), AD)  # type: ignore[arg-type]


def test_object_ad_layout() -> None:
    ad = object_ad("index", "ff" * 32, b"\x01\x02")
    tag = b"coffer/v1/object-ad"
    expected = (
        len(tag).to_bytes(2, "big")
        + tag
        + b"\x00\x05index"
        + b"\x00\x40"
        + b"f" * 64
        + b"\x00\x02\x01\x02"
    )
    assert ad == expected


identities = st.tuples(
    st.text(min_size=1, max_size=12), st.text(max_size=70), st.binary(min_size=1, max_size=40)
)


@settings(deadline=None)
@given(identities, identities)
def test_object_ad_is_injective(a: tuple[str, str, bytes], b: tuple[str, str, bytes]) -> None:
    assert (object_ad(*a) == object_ad(*b)) == (a == b)


def test_object_ad_has_no_concatenation_ambiguity() -> None:
    assert object_ad("ab", "c", REPO) != object_ad("a", "bc", REPO)
    assert object_ad("a", "", b"x" + REPO) != object_ad("a", "x", REPO)


def test_object_sealed_under_one_identity_does_not_open_under_another() -> None:
    sealed = seal(KEY, b"snapshot", object_ad("snapshot", "aa" * 32, REPO))
    others = [
        object_ad("index", "aa" * 32, REPO),
        object_ad("snapshot", "bb" * 32, REPO),
        object_ad("snapshot", "aa" * 32, b"\x08" * 32),
    ]
    for ad in others:
        with pytest.raises(IntegrityError):
            open_sealed(KEY, sealed, ad)


@pytest.mark.parametrize(("kind", "repo"), [("", REPO), ("data", b"")])
def test_object_ad_refuses_empty_kind_or_repository(kind: str, repo: bytes) -> None:
    with pytest.raises(ValueError):
        object_ad(kind, "x", repo)
