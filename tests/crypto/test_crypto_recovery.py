"""Recovery key v1: the checksum catches every single typo and adjacent transposition.

The exhaustive tests try, for each key, all 64 × 31 single-character substitutions and all 63
adjacent transpositions of distinct characters — both the algebraic part (positions 0..53) and the
hash part (54..63), including the pair (53, 54) that straddles them.
"""

from __future__ import annotations

import builtins
import hashlib
import os
import random
import re
import socket
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coffer.crypto import _gf32
from coffer.crypto.recovery import (
    ALPHABET,
    CODE_CHARS,
    HASH_PERSONAL,
    TOTAL_CHARS,
    RecoveryKey,
    RecoveryKeyTypo,
    _hash_symbols,
    decode,
    encode,
)
from coffer.errors import WrongKey

SYMBOL = "[0-9A-HJKMNP-TV-Z]"
DISPLAY = re.compile(rf"({SYMBOL}{{4}} ){{15}}{SYMBOL}{{4}}")
EDGE_SECRETS = [bytes(32), b"\xff" * 32, b"\xaa" * 32, bytes(range(32)), b"\x00" * 31 + b"\x01"]
secrets32 = st.binary(min_size=32, max_size=32)


def substitutions(flat: str) -> Iterator[tuple[str, str]]:
    for pos in range(TOTAL_CHARS):
        for sym in ALPHABET:
            if sym != flat[pos]:
                yield f"substitute {pos} by {sym}", flat[:pos] + sym + flat[pos + 1 :]


def transpositions(flat: str) -> Iterator[tuple[str, str]]:
    for i in range(TOTAL_CHARS - 1):
        if flat[i] != flat[i + 1]:
            yield f"swap {i},{i + 1}", flat[:i] + flat[i + 1] + flat[i] + flat[i + 2 :]


def accepted_typos(secret: bytes) -> tuple[list[str], int]:
    """Every typo that parse() does NOT reject (must be none), and how many were tried."""
    flat = encode(secret)
    accepted, tried = [], 0
    for what, text in [*substitutions(flat), *transpositions(flat)]:
        tried += 1
        try:
            decode(text)
        except RecoveryKeyTypo as exc:
            if "typo" not in str(exc):
                accepted.append(f"{what}: message without 'typo'")
        else:
            accepted.append(what)
    return accepted, tried


@pytest.mark.parametrize("secret", EDGE_SECRETS, ids=lambda s: s[:2].hex() + s[-1:].hex())
def test_every_single_typo_and_transposition_is_rejected_for_edge_keys(secret: bytes) -> None:
    accepted, tried = accepted_typos(secret)
    assert accepted == []
    assert tried >= TOTAL_CHARS * 31


@settings(max_examples=40, deadline=None)
@given(secrets32)
def test_every_single_typo_and_transposition_is_rejected(secret: bytes) -> None:
    accepted, _ = accepted_typos(secret)
    assert accepted == []


def test_random_multi_character_errors_are_rejected() -> None:
    rng = random.Random(20261126)
    for _ in range(3000):
        flat = list(encode(rng.randbytes(32)))
        original = "".join(flat)
        for pos in rng.sample(range(TOTAL_CHARS), rng.randint(2, 6)):
            flat[pos] = rng.choice(ALPHABET)
        if "".join(flat) != original:
            with pytest.raises(RecoveryKeyTypo):
                decode("".join(flat))


@settings(max_examples=100, deadline=None)
@given(secrets32)
def test_display_format_and_round_trip_in_every_spelling(secret: bytes) -> None:
    key = RecoveryKey(secret)
    shown = key.display()
    assert DISPLAY.fullmatch(shown)
    flat = shown.replace(" ", "")
    spellings = [
        shown,
        flat,
        shown.lower(),
        flat.lower(),
        shown.replace(" ", "-"),
        shown.replace(" ", "_"),
        f"\t{shown}\n",
        "-".join(flat[i : i + 8] for i in range(0, 64, 8)),
        flat.replace("1", "I").replace("0", "O"),
        flat.replace("1", "l").replace("0", "o"),
        "\ufeff" + "\u2013".join(shown.split()) + "\u200b",
        "\u00a0".join(shown.split()),
    ]
    for text in spellings:
        assert RecoveryKey.parse(text).secret == secret


def test_characters_outside_the_alphabet_are_typos() -> None:
    flat = encode(bytes(range(32)))
    for bad in "U", "u", "!", "é", "٣", "\x00":
        with pytest.raises(RecoveryKeyTypo, match=r"typo: .* in group 3 is not a recovery-key"):
            decode(flat[:10] + bad + flat[11:])


@pytest.mark.parametrize("cut", [0, 1, 63, 65, 128])
def test_wrong_length_is_a_typo(cut: int) -> None:
    flat = encode(bytes(range(32))) * 2
    with pytest.raises(RecoveryKeyTypo, match=rf"typo: it must have 64 characters .* has {cut}"):
        decode(flat[:cut])


def test_substitution_message_names_the_group() -> None:
    flat = encode(bytes(range(32)))
    pos = 9
    typo = flat[:pos] + ("Z" if flat[pos] != "Z" else "Y") + flat[pos + 1 :]
    with pytest.raises(RecoveryKeyTypo, match=r"typo: its checksum does not match \(.*group 3"):
        decode(typo)


def test_typo_is_a_wrong_key_error_with_exit_code_11() -> None:
    assert issubclass(RecoveryKeyTypo, WrongKey)
    assert RecoveryKeyTypo.exit_code == 11


def test_parsing_is_pure(monkeypatch: pytest.MonkeyPatch) -> None:
    """A typo is caught without touching files or the network (so before any storage access)."""

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("recovery-key parsing must not do I/O")

    text = RecoveryKey(bytes(range(32))).display()
    monkeypatch.setattr(builtins, "open", forbidden)
    monkeypatch.setattr(os, "open", forbidden)
    monkeypatch.setattr(socket, "socket", forbidden)
    assert RecoveryKey.parse(text).secret == bytes(range(32))
    with pytest.raises(RecoveryKeyTypo):
        RecoveryKey.parse(text[:-1] + ("0" if text[-1] != "0" else "1"))


def test_hash_part_is_blake2b_with_the_versioned_personalisation() -> None:
    code = encode(bytes(range(32)))[:CODE_CHARS]
    digest = hashlib.blake2b(code.encode(), digest_size=16, person=HASH_PERSONAL).digest()
    bits = int.from_bytes(digest[:8], "big") >> 14
    assert _hash_symbols(code) == [(bits >> (5 * (9 - i))) & 31 for i in range(10)]
    assert HASH_PERSONAL == b"coffer-reckey-v1"


def test_code_part_satisfies_both_check_equations() -> None:
    for secret in EDGE_SECRETS:
        word = [ALPHABET.index(c) for c in encode(secret)[:CODE_CHARS]]
        assert _gf32.syndromes(word) == (0, 0)


def test_generated_keys_are_fresh_and_redacted() -> None:
    keys = [RecoveryKey.generate() for _ in range(32)]
    assert len({k.secret for k in keys}) == 32
    key = keys[0]
    for text in (repr(key), str(key), f"{key}", repr([key])):
        assert "redacted" in text
        assert key.secret.hex() not in text
        assert key.display() not in text and key.display().replace(" ", "") not in text


def test_equality_and_unhashability() -> None:
    a, b = RecoveryKey(bytes(32)), RecoveryKey(bytes(32))
    assert a == b and a != RecoveryKey(b"\x01" * 32)
    with pytest.raises(TypeError):
        hash(a)


@pytest.mark.parametrize("secret", [b"", b"x" * 31, b"x" * 33, "x" * 32])
def test_constructor_refuses_wrong_sizes(secret: object) -> None:
    with pytest.raises(ValueError):
        RecoveryKey(secret)  # type: ignore[arg-type]


# --- the GF(32) code itself, checked exhaustively against an independent multiplication ---


def clmul_mod(a: int, b: int) -> int:
    """Carry-less multiplication reduced by x^5 + x^2 + 1, bit by bit."""
    product = 0
    for bit in range(5):
        if b >> bit & 1:
            product ^= a << bit
    for bit in range(8, 4, -1):
        if product >> bit & 1:
            product ^= 0b100101 << (bit - 5)
    return product


def test_field_multiplication_matches_reference_for_all_pairs() -> None:
    for a in range(32):
        for b in range(32):
            assert _gf32.mul(a, b) == clmul_mod(a, b)


def test_field_axioms_hold_exhaustively() -> None:
    for a in range(1, 32):
        assert _gf32.mul(a, _gf32.inv(a)) == 1
    for a in range(32):
        for b in range(32):
            for c in range(32):
                assert _gf32.mul(a, b ^ c) == _gf32.mul(a, b) ^ _gf32.mul(a, c)
    with pytest.raises(ZeroDivisionError):
        _gf32.inv(0)


def test_alpha_generates_the_multiplicative_group() -> None:
    powers = [_gf32.alpha_pow(i) for i in range(31)]
    assert sorted(powers) == list(range(1, 32))
    assert _gf32.alpha_pow(31) == 1
    assert clmul_mod(16, 2) == 0b00101  # x^5 = x^2 + 1


def test_substitution_positions_locate_single_errors() -> None:
    word = [ALPHABET.index(c) for c in encode(bytes(range(32)))[:CODE_CHARS]]
    for pos in range(CODE_CHARS):
        for e in range(1, 32):
            bad = list(word)
            bad[pos] ^= e
            s0, s1 = _gf32.syndromes(bad)
            assert s0 == e
            assert pos in _gf32.substitution_positions(s0, s1, CODE_CHARS)


@settings(max_examples=50, deadline=None)
@given(secrets32)
def test_algebraic_part_alone_detects_every_substitution_and_transposition(secret: bytes) -> None:
    """The guarantee must not lean on the hash characters: S0/S1 catch these on their own."""
    word = [ALPHABET.index(c) for c in encode(secret)[:CODE_CHARS]]
    for pos in range(CODE_CHARS):
        for e in range(1, 32):
            bad = list(word)
            bad[pos] ^= e
            assert _gf32.syndromes(bad) != (0, 0)
    for i in range(CODE_CHARS - 1):
        if word[i] != word[i + 1]:
            bad = list(word)
            bad[i], bad[i + 1] = bad[i + 1], bad[i]
            assert _gf32.syndromes(bad)[1] != 0
