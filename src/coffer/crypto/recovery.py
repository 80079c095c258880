"""The recovery key R: 32 random bytes the user writes down, as 64 characters with checksums.

Rules ("recovery key v1", specified with a test vector in docs/design-crypto.md):

- Alphabet: Crockford base32 ``0123456789ABCDEFGHJKMNPQRSTVWXYZ`` (no I, L, O, U).
- 64 characters = 52 data characters (the 256 key bits, big-endian, then 4 zero padding bits)
  + 2 algebraic check characters + 10 hash check characters. Shown as 16 groups of 4 separated by
  single spaces (:meth:`RecoveryKey.display`).
- Check characters ``c1, c2`` (positions 52, 53) make the 54-symbol word valid for the GF(32) code
  of :mod:`coffer.crypto._gf32`: every single-symbol substitution and every adjacent transposition
  of distinct symbols in those 54 characters is detected.
- Hash characters (positions 54..63) are the first 50 bits of BLAKE2b-128 (libsodium), personal
  ``b"coffer-reckey-v1"``, over the 54 characters as ASCII. Any change to them mismatches the
  recomputed value; any random multi-character error passes all checks with probability about
  ``2⁻⁶⁰``.
- Input normalisation in :meth:`RecoveryKey.parse`: upper-case; drop whitespace, ``-``, ``_``,
  Unicode dashes and invisible format characters (zero-width space, BOM — copy-paste debris);
  read ``I`` and ``L`` as ``1`` and ``O`` as ``0``. Nothing else is accepted.
- Every rejection raises :class:`RecoveryKeyTypo` (a :class:`coffer.errors.WrongKey`) whose message
  says the key has a typo; parsing is pure and happens before any storage access.
- The secret never appears in ``repr``/``str``; only :meth:`RecoveryKey.display` shows it.
"""

from __future__ import annotations

import hmac
import secrets
import unicodedata

import pysodium

from coffer.crypto import _gf32
from coffer.errors import WrongKey

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
SECRET_LEN = 32
DATA_CHARS = 52
CHECK_CHARS = 2
HASH_CHARS = 10
CODE_CHARS = DATA_CHARS + CHECK_CHARS
TOTAL_CHARS = CODE_CHARS + HASH_CHARS
GROUP = 4
PAD_BITS = DATA_CHARS * 5 - SECRET_LEN * 8
HASH_PERSONAL = b"coffer-reckey-v1"

_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_ALIASES = str.maketrans({"I": "1", "L": "1", "O": "0"})
_SEPARATORS = frozenset("-_\u2010\u2011\u2012\u2013\u2014\u2212")  # ASCII and Unicode dashes


class RecoveryKeyTypo(WrongKey):
    """The text is not a well-formed recovery key: a typo, a missing or an extra character."""


def _typo(detail: str) -> RecoveryKeyTypo:
    return RecoveryKeyTypo(f"the recovery key has a typo: {detail}")


def _hash_symbols(code: str) -> list[int]:
    digest = pysodium.crypto_generichash_blake2b_salt_personal(
        code.encode("ascii"), outlen=16, personal=HASH_PERSONAL
    )
    bits = int.from_bytes(digest[:8], "big") >> (64 - 5 * HASH_CHARS)
    return [(bits >> (5 * (HASH_CHARS - 1 - i))) & 31 for i in range(HASH_CHARS)]


def _data_symbols(secret: bytes) -> list[int]:
    number = int.from_bytes(secret, "big") << PAD_BITS
    return [(number >> (5 * (DATA_CHARS - 1 - i))) & 31 for i in range(DATA_CHARS)]


def encode(secret: bytes) -> str:
    """The 64 canonical characters (no separators) for a 32-byte secret."""
    data = _data_symbols(secret)
    c1, c2 = _gf32.check_symbols(data)
    code = "".join(ALPHABET[s] for s in [*data, c1, c2])
    return code + "".join(ALPHABET[s] for s in _hash_symbols(code))


def _is_separator(char: str) -> bool:
    """Whitespace, dashes, ``_`` and invisible format characters (zero-width space, BOM)."""
    return char.isspace() or char in _SEPARATORS or unicodedata.category(char) == "Cf"


def normalise(text: str) -> str:
    """Upper-case, drop separators (:func:`_is_separator`), read I and L as 1 and O as 0."""
    kept = (c for c in text.upper() if not _is_separator(c))
    return "".join(kept).translate(_ALIASES)


def _group_of(position: int) -> int:
    return position // GROUP + 1


def _check_characters(chars: str) -> None:
    for position, char in enumerate(chars):
        if char not in _VALUE:
            shown = repr(char) if char.isprintable() else "an unprintable character"
            raise _typo(f"{shown} in group {_group_of(position)} is not a recovery-key character")
    if len(chars) != TOTAL_CHARS:
        raise _typo(
            f"it must have {TOTAL_CHARS} characters (16 groups of 4), this one has {len(chars)}"
        )


def _check_code(chars: str) -> None:
    word = [_VALUE[c] for c in chars[:CODE_CHARS]]
    s0, s1 = _gf32.syndromes(word)
    if s0 or s1:
        groups = sorted({_group_of(p) for p in _gf32.substitution_positions(s0, s1, CODE_CHARS)})
        hint = ""
        if groups:
            hint = " (if only one character is wrong, it is in group "
            hint += " or ".join(str(g) for g in groups) + ")"
        raise _typo(f"its checksum does not match{hint}; compare it with the one you wrote down")
    expected = "".join(ALPHABET[s] for s in _hash_symbols(chars[:CODE_CHARS]))
    if not hmac.compare_digest(expected, chars[CODE_CHARS:]):
        raise _typo("its checksum does not match; compare it with the one you wrote down")


def decode(text: str) -> bytes:
    """The 32-byte secret from a typed key, or :class:`RecoveryKeyTypo`."""
    chars = normalise(text)
    _check_characters(chars)
    _check_code(chars)
    number = 0
    for c in chars[:DATA_CHARS]:
        number = (number << 5) | _VALUE[c]
    if number & ((1 << PAD_BITS) - 1):
        raise _typo("its checksum does not match; compare it with the one you wrote down")
    return (number >> PAD_BITS).to_bytes(SECRET_LEN, "big")


class RecoveryKey:
    """A 32-byte recovery key; ``repr``/``str`` are redacted, :meth:`display` shows it."""

    __slots__ = ("_secret",)

    def __init__(self, secret: bytes) -> None:
        if not isinstance(secret, bytes) or len(secret) != SECRET_LEN:
            raise ValueError(f"a recovery key is {SECRET_LEN} bytes")
        self._secret = secret

    @classmethod
    def generate(cls) -> RecoveryKey:
        """A fresh key from the OS CSPRNG."""
        return cls(secrets.token_bytes(SECRET_LEN))

    @classmethod
    def parse(cls, text: str) -> RecoveryKey:
        """Read a typed key (any case, with or without separators); typos raise RecoveryKeyTypo."""
        return cls(decode(text))

    @property
    def secret(self) -> bytes:
        """The 32 secret bytes."""
        return self._secret

    def display(self) -> str:
        """The key as 16 groups of 4 characters separated by spaces."""
        chars = encode(self._secret)
        return " ".join(chars[i : i + GROUP] for i in range(0, TOTAL_CHARS, GROUP))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RecoveryKey):
            return NotImplemented
        return hmac.compare_digest(self._secret, other._secret)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "RecoveryKey(<redacted>)"

    __str__ = __repr__
