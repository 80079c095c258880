"""Generate tests/vectors/recovery-key-v1.json: fixed 32-byte secrets and their exact 64-character
recovery keys (format "recovery key v1", docs/design-crypto.md), accepted spellings, and typos that
must be rejected. Deterministic: re-running gives the same file.

Usage: .venv/bin/python scripts/gen_recovery_vectors.py [--check]
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from coffer.crypto import _gf32
from coffer.crypto.recovery import ALPHABET, DATA_CHARS, RecoveryKey, _hash_symbols, encode

OUT = Path(__file__).resolve().parent.parent / "tests" / "vectors" / "recovery-key-v1.json"


def _secrets() -> list[bytes]:
    fixed = [bytes(32), b"\xff" * 32, bytes(range(32))]
    return fixed + [hashlib.sha256(b"coffer recovery vector %d" % i).digest() for i in range(5)]


def _keys() -> list[dict[str, str]]:
    return [
        {"secret": s.hex(), "display": RecoveryKey(s).display(), "canonical": encode(s)}
        for s in _secrets()
    ]


def _spellings(secret: bytes) -> list[str]:
    shown = RecoveryKey(secret).display()
    flat = shown.replace(" ", "")
    return [
        shown,
        flat,
        shown.lower(),
        shown.replace(" ", "-"),
        "  " + shown.replace(" ", "_") + "\n",
        flat.replace("1", "l").replace("0", "O"),
        flat.replace("1", "I").replace("0", "o"),
    ]


def _padding_not_zero(secret: bytes) -> str:
    """Checksums all correct, but the 4 padding bits are 0001: must still be refused."""
    canonical = encode(secret)
    data = [ALPHABET.index(c) for c in canonical[:DATA_CHARS]]
    data[-1] |= 1
    code = "".join(ALPHABET[s] for s in [*data, *_gf32.check_symbols(data)])
    return code + "".join(ALPHABET[s] for s in _hash_symbols(code))


def _typos(secret: bytes) -> list[dict[str, str]]:
    flat = encode(secret)
    swapped = next(i for i in range(63) if flat[i] != flat[i + 1])
    sub = flat[:5] + ("Z" if flat[5] != "Z" else "Y") + flat[6:]
    trans = flat[:swapped] + flat[swapped + 1] + flat[swapped] + flat[swapped + 2 :]
    return [
        {"why": "one substituted character (position 5)", "text": sub},
        {"why": f"adjacent transposition at positions {swapped},{swapped + 1}", "text": trans},
        {"why": "a character outside the alphabet (U)", "text": "U" + flat[1:]},
        {"why": "one character missing", "text": flat[:-1]},
        {"why": "one character too many", "text": flat + "0"},
        {"why": "hash check characters changed", "text": flat[:60] + flat[62:] + flat[60:62]},
        {"why": "non-zero padding bits with valid checksums", "text": _padding_not_zero(secret)},
    ]


def build() -> dict[str, Any]:
    """The whole vector file as a JSON-ready dict."""
    example = bytes(range(32))
    return {
        "format": "recovery key v1",
        "generator": "scripts/gen_recovery_vectors.py",
        "alphabet": ALPHABET,
        "keys": _keys(),
        "accepted_spellings": {"secret": example.hex(), "texts": _spellings(example)},
        "typos": _typos(example),
    }


def render() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        same = OUT.read_text(encoding="utf-8") == text
        print("up to date" if same else f"{OUT} differs from the generator output")
        return 0 if same else 1
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
