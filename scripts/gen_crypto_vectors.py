"""Generate tests/vectors/crypto-v1.json: HKDF labels, KeyRing, sealing, object AD, blob IDs and
key slots of format v1, from fixed inputs (no randomness, so re-running gives the same file).

Usage: .venv/bin/python scripts/gen_crypto_vectors.py [--check]

``--check`` compares with the committed file instead of writing it (exit 1 on a difference).
tests/crypto/test_crypto_vectors.py does the same check in-process.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from coffer.crypto.aead import _seal_with_nonce, object_ad
from coffer.crypto.blobid import blob_id
from coffer.crypto.kdf import KeyRing, Label, derive_key
from coffer.crypto.slots import SlotKind, _build_slot

OUT = Path(__file__).resolve().parent.parent / "tests" / "vectors" / "crypto-v1.json"

MASTER = bytes(range(32))
REPO_ID = hashlib.sha256(b"coffer test repository").digest()
SLOT_SECRET = bytes(range(0x40, 0x60))
SLOT_SALT = bytes(range(0x80, 0xA0))
SLOT_NONCE = bytes(range(0xC0, 0xD8))
SLOT_CREATED = "2026-11-26T12:00:00+00:00"
AEAD_NONCE = bytes(range(0x10, 0x28))
BLOB = b"Hello from Coffer \xf0\x9f\x94\x90\n" * 3


def _hkdf() -> list[dict[str, str]]:
    return [
        {"label": label.value, "salt": REPO_ID.hex(), "context": "", "okm": _okm(label, b"")}
        for label in Label
    ] + [
        {
            "label": label.value,
            "salt": SLOT_SALT.hex(),
            "context": REPO_ID.hex(),
            "okm": _okm(label, REPO_ID, SLOT_SALT),
        }
        for label in (Label.SLOT_RECOVERY, Label.SLOT_VAULT, Label.SLOT_PASSKEY)
    ]


def _okm(label: Label, context: bytes, salt: bytes = REPO_ID) -> str:
    return derive_key(MASTER, label, salt=salt, context=context).hex()


def _keyring() -> dict[str, str]:
    ring = KeyRing.derive(MASTER, REPO_ID)
    names = (
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
    return {name: getattr(ring, name).hex() for name in names}


def _aead() -> list[dict[str, str]]:
    key = KeyRing.derive(MASTER, REPO_ID).data
    cases = [
        ("data", "ab" * 32, b""),
        ("snapshot", "", b'{"paths":["/chats"]}'),
        ("config", "config", BLOB),
    ]
    out = []
    for kind, object_id, plaintext in cases:
        ad = object_ad(kind, object_id, REPO_ID)
        sealed = _seal_with_nonce(key, plaintext, ad, AEAD_NONCE)
        out.append(
            {
                "key": key.hex(),
                "nonce": AEAD_NONCE.hex(),
                "kind": kind,
                "object_id": object_id,
                "repo_id": REPO_ID.hex(),
                "ad": ad.hex(),
                "plaintext": plaintext.hex(),
                "sealed": sealed.hex(),
            }
        )
    return out


def _blob_ids() -> list[dict[str, str]]:
    key = KeyRing.derive(MASTER, REPO_ID).chunk_id
    return [
        {"key": key.hex(), "data": d.hex(), "blob_id": blob_id(key, d).hex()} for d in (b"", BLOB)
    ]


def _slots() -> list[dict[str, Any]]:
    out = []
    metas = {
        SlotKind.RECOVERY: {},
        SlotKind.VAULT: {"account": "alice", "vault": "https://vault.example/v1"},
        SlotKind.PASSKEY: {"credential": "c3ludGhldGlj", "note": "ключ 🔑"},
    }
    for kind, meta in metas.items():
        slot_id, data = _build_slot(
            kind, SLOT_SECRET, MASTER, REPO_ID, meta, SLOT_SALT, SLOT_CREATED, SLOT_NONCE
        )
        out.append(
            {
                "kind": kind.value,
                "secret": SLOT_SECRET.hex(),
                "master_key": MASTER.hex(),
                "repo_id": REPO_ID.hex(),
                "salt": SLOT_SALT.hex(),
                "nonce": SLOT_NONCE.hex(),
                "created": SLOT_CREATED,
                "meta": meta,
                "slot_id": slot_id,
                "object": data.hex(),
            }
        )
    return out


def build() -> dict[str, Any]:
    """The whole vector file as a JSON-ready dict."""
    return {
        "format": "coffer crypto v1",
        "generator": "scripts/gen_crypto_vectors.py",
        "master_key": MASTER.hex(),
        "repo_id": REPO_ID.hex(),
        "hkdf_sha256": _hkdf(),
        "keyring": _keyring(),
        "aead_xchacha20poly1305_v1": _aead(),
        "blob_id_blake3_keyed": _blob_ids(),
        "key_slots_v1": _slots(),
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
