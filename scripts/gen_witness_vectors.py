"""Generate tests/vectors/witness-v1.json: the witness keys, digests, row messages, signatures
and JSON bodies of witness protocol v1, from fixed inputs (Ed25519 is deterministic: re-running
gives the same file).

Usage: .venv/bin/python scripts/gen_witness_vectors.py [--check]

``--check`` compares with the committed file instead of writing it (exit 1 on a difference).

Everything here is computed from the recipe in docs/design.md ("Witness API") with
``cryptography`` and ``hmac`` directly — not with ``coffer.freshness`` — so
tests/freshness/test_witness_proto.py checks the module against an independent reading of the
spec. The master key and repository ID are those of crypto-v1.json.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

OUT = Path(__file__).resolve().parent.parent / "tests" / "vectors" / "witness-v1.json"

MASTER = bytes(range(32))
REPO_ID = hashlib.sha256(b"coffer test repository").digest()
LABELS = {
    "witness_id": "coffer/v1/witness/id",
    "signing_seed": "coffer/v1/witness/sign",
    "digest_key": "coffer/v1/witness/digest",
}
ROW_CONTEXT = b"coffer-witness-row/v1\x00"
OBJECT_IDS = ["00" * 32, hashlib.sha256(b"a snapshot object").hexdigest()]
ROWS = [
    ("00112233445566778899aabbccddeeff", 1, 0),
    ("ffeeddccbbaa99887766554433221100", 4711, 1),
    ("0123456789abcdef0123456789abcdef", 2**53 - 1, 1),
]


def _hkdf(label: str) -> bytes:
    kdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=REPO_ID, info=label.encode("ascii"))
    return kdf.derive(MASTER)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def build() -> dict[str, Any]:
    """The whole vector file as a JSON-ready dict."""
    keys = {name: _hkdf(label) for name, label in LABELS.items()}
    signing = Ed25519PrivateKey.from_private_bytes(keys["signing_seed"])
    public = signing.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    digests = [
        hmac.new(keys["digest_key"], bytes.fromhex(oid), hashlib.sha256).digest()
        for oid in OBJECT_IDS
    ]
    rows = []
    for writer, seq, which in ROWS:
        msg = (
            ROW_CONTEXT
            + keys["witness_id"]
            + bytes.fromhex(writer)
            + seq.to_bytes(8, "big")
            + digests[which]
        )
        sig = signing.sign(msg)
        body = {
            "witness_id": _b64(keys["witness_id"]),
            "public_key": _b64(public),
            "writer": writer,
            "seq": seq,
            "digest": _b64(digests[which]),
            "signature": _b64(sig),
        }
        rows.append(
            {
                "writer": writer,
                "seq": seq,
                "object_id": OBJECT_IDS[which],
                "digest": digests[which].hex(),
                "message": msg.hex(),
                "signature": sig.hex(),
                "update_body": body,
            }
        )
    return {
        "format": "coffer witness v1",
        "generator": "scripts/gen_witness_vectors.py",
        "master_key": MASTER.hex(),
        "repo_id": REPO_ID.hex(),
        "labels": LABELS,
        "keys": {name: value.hex() for name, value in keys.items()},
        "public_key": public.hex(),
        "digests": [
            {"object_id": o, "digest": d.hex()} for o, d in zip(OBJECT_IDS, digests, strict=True)
        ],
        "rows": rows,
        "read_body": {"witness_id": _b64(keys["witness_id"])},
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
