"""The Argon2id KSF against an independent Argon2 (libsodium's crypto_pwhash, p = 1 only), and
the profiles' parameters."""

from __future__ import annotations

import pysodium
import pytest

from coffer.opaque import (
    KSF_MOBILE,
    KSF_OPAQUE_KE_DEFAULT,
    KSF_RFC_RECOMMENDED,
    Argon2idKSF,
    IdentityKSF,
)


@pytest.mark.parametrize(("memory_kib", "iterations"), [(256, 1), (1024, 2), (512, 3)])
def test_argon2id_matches_libsodium(memory_kib: int, iterations: int) -> None:
    msg = bytes(range(64))
    ours = Argon2idKSF(memory_kib, iterations, 1).stretch(msg)
    theirs = pysodium.crypto_pwhash(
        64,
        msg,
        bytes(16),
        iterations,
        memory_kib * 1024,
        pysodium.crypto_pwhash_ALG_ARGON2ID13,
    )
    assert ours == theirs and len(ours) == 64


def test_profiles() -> None:
    assert KSF_RFC_RECOMMENDED == Argon2idKSF(2**21, 1, 4)
    assert KSF_MOBILE == Argon2idKSF(65536, 3, 1)
    assert KSF_OPAQUE_KE_DEFAULT == Argon2idKSF(19456, 2, 1)
    assert IdentityKSF().stretch(b"abc") == b"abc"
    assert "m=65536 KiB" in KSF_MOBILE.describe()


def test_parallelism_changes_output() -> None:
    msg = b"\x01" * 64
    assert Argon2idKSF(256, 1, 1).stretch(msg) != Argon2idKSF(256, 1, 2).stretch(msg)
