"""GF(32) arithmetic and the two-symbol check code of the recovery key (an error-detecting code,
not a cryptographic primitive).

Rules:

- The field is GF(2)[x] / (x⁵ + x² + 1); a symbol value 0..31 is the polynomial whose coefficients
  are its bits (bit 4 = x⁴). Addition is XOR. ``α = x`` (value 2) has order 31, so it generates
  the multiplicative group (31 is prime).
- A word ``x_0 … x_{n-1}`` is valid when both syndromes vanish:
  ``S0 = Σ x_i = 0`` and ``S1 = Σ α^i · x_i = 0``.

Theory of operation: a single substitution ``x_j → x_j + e`` (``e ≠ 0``) changes ``S0`` by ``e``;
an adjacent transposition of ``x_j ≠ x_{j+1}`` leaves ``S0`` alone and changes ``S1`` by
``α^j (1 + α)(x_j + x_{j+1})``, a product of non-zero field elements, hence non-zero. Both error
classes are therefore always detected, at every position of a word of any length. Given the
syndromes of a single substitution, ``α^j = S1 / S0`` fixes ``j`` modulo 31.
"""

from __future__ import annotations

MODULUS = 0b100101  # x^5 + x^2 + 1
ORDER = 31
ALPHA = 0b00010

EXP: tuple[int, ...]
LOG: dict[int, int]


def _tables() -> tuple[tuple[int, ...], dict[int, int]]:
    exp = []
    value = 1
    for _ in range(ORDER):
        exp.append(value)
        value <<= 1
        if value & 0b100000:
            value ^= MODULUS
    log = {v: i for i, v in enumerate(exp)}
    return tuple(exp), log


EXP, LOG = _tables()


def mul(a: int, b: int) -> int:
    """Product of two field elements."""
    if a == 0 or b == 0:
        return 0
    return EXP[(LOG[a] + LOG[b]) % ORDER]


def inv(a: int) -> int:
    """Multiplicative inverse of a non-zero element."""
    if a == 0:
        raise ZeroDivisionError("0 has no inverse in GF(32)")
    return EXP[(-LOG[a]) % ORDER]


def alpha_pow(i: int) -> int:
    """``α^i``."""
    return EXP[i % ORDER]


def syndromes(word: list[int]) -> tuple[int, int]:
    """``(S0, S1)`` of ``word``; both are 0 exactly for a valid word."""
    s0 = s1 = 0
    for i, x in enumerate(word):
        s0 ^= x
        s1 ^= mul(EXP[i % ORDER], x)
    return s0, s1


def check_symbols(data: list[int]) -> tuple[int, int]:
    """The two symbols ``(c1, c2)`` that make ``data + [c1, c2]`` a valid word.

    With ``n = len(data)`` and the syndromes ``(S0, S1)`` of ``data``: ``c1 + c2 = S0`` and
    ``α^n c1 + α^(n+1) c2 = S1``, so ``c2 = (S1 + α^n S0) / (α^n (1 + α))`` and ``c1 = S0 + c2``.
    """
    n = len(data)
    s0, s1 = syndromes(data)
    c2 = mul(s1 ^ mul(alpha_pow(n), s0), inv(mul(alpha_pow(n), 1 ^ ALPHA)))
    return s0 ^ c2, c2


def substitution_positions(s0: int, s1: int, length: int) -> list[int]:
    """Positions where one substituted symbol would explain the syndromes (none if ``S0 = 0``)."""
    if s0 == 0 or s1 == 0:
        return []
    j = LOG[mul(s1, inv(s0))]
    return list(range(j, length, ORDER))
