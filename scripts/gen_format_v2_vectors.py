"""Generate tests/vectors/format-v2.json: the tree stream, snapshot and forget-record objects of
repository format v2, from fixed inputs (no randomness: re-running gives the same file).

Usage: .venv/bin/python scripts/gen_format_v2_vectors.py [--check]

``--check`` compares with the committed file instead of writing it (exit 1 on a difference).
tests/engine/test_format_v2.py does the same check in-process and decodes every vector with an
untyped MessagePack reader against the layout documented in docs/design.md.

What is pinned: the MessagePack bytes before zstd (zstd's output may differ between library
versions, and sealing is pinned by crypto-v1.json), and the keyed blob IDs of the tree stream's
pieces for the crypto-v1 master key and repository ID.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from coffer.crypto.blobid import blob_id
from coffer.crypto.kdf import KeyRing
from coffer.engine.chunker import DB_STREAM_PARAMS, Chunker
from coffer.engine.manifest import forget_msgpack, snapshot_msgpack
from coffer.engine.snapshot import ForgetRecord, Node, RemovedSnapshot, Snapshot
from coffer.engine.tree import encode_tree

OUT = Path(__file__).resolve().parent.parent / "tests" / "vectors" / "format-v2.json"

MASTER = bytes(range(32))  # as in crypto-v1.json
REPO_ID = hashlib.sha256(b"coffer test repository").digest()
WRITER_A = "00112233445566778899aabbccddeeff"
WRITER_B = "ffeeddccbbaa99887766554433221100"
BLOB_1 = bytes(range(32))
BLOB_2 = bytes(range(32, 64))


def sample_tree() -> list[Node]:
    """Every node kind, a non-UTF-8 name, a backslash, a database node with extra fields."""
    media = Node(
        name="media",
        type="dir",
        mode=0o755,
        mtime_ns=1_764_590_400_000_000_000,
        children=[
            Node(
                name=os.fsdecode(b"caf\xe9 \\ photo.jpg"),
                type="file",
                mode=0o644,
                mtime_ns=1_764_590_401_000_000_000,
                size=70_000,
                inode=1234,
                ctime_ns=1_764_590_401_500_000_000,
                content=[BLOB_1, BLOB_2],
            ),
            Node(name="latest", type="symlink", mode=0o777, target="caf\udce9 \\ photo.jpg"),
        ],
    )
    db = Node(
        name="msgstore.db",
        type="file",
        mode=0o600,
        mtime_ns=1_764_590_402_000_000_000,
        size=4096,
        inode=99,
        ctime_ns=1_764_590_402_000_000_000,
        format="sqlite-logical",
        content=[BLOB_2],
        extra={"stream_bytes": 4096},
    )
    return [Node(name="chat-store", type="dir", mode=0o700, children=[db, media])]


def sample_snapshot(tree_blobs: list[bytes], tree_bytes: int) -> Snapshot:
    return Snapshot(
        time="2026-12-01T12:00:00.000000+00:00",
        hostname="phone",
        username="alice",
        paths=[os.fsdecode(b"/home/alice/chat-store")],
        parent="ab" * 32,
        tags=["nightly"],
        skipped=[{"path": os.fsdecode(b"/home/alice/chat-store/\xff.tmp"), "error": "vanished"}],
        summary={"files_new": 2, "bytes_new": 74096},
        writer=WRITER_A,
        seq=7,
        seen={WRITER_A: 6, WRITER_B: 3},
        tree_blobs=tree_blobs,
        tree_bytes=tree_bytes,
    )


def sample_forget() -> ForgetRecord:
    return ForgetRecord(
        time="2026-12-02T03:00:00.000000+00:00",
        hostname="laptop",
        writer=WRITER_B,
        seq=4,
        removed=[RemovedSnapshot("cd" * 32, WRITER_A, 5, "2026-11-30T12:00:00.000000+00:00")],
        seen={WRITER_A: 7, WRITER_B: 3},
        supersedes=["ef" * 32],
    )


def build() -> dict[str, Any]:
    keys = KeyRing.derive(MASTER, REPO_ID)
    stream = encode_tree(sample_tree())
    pieces = [bytes(p) for p in Chunker(keys.chunker, DB_STREAM_PARAMS).cut(stream)]
    ids = [blob_id(keys.chunk_id, p) for p in pieces]
    snap = sample_snapshot(ids, len(stream))
    return {
        "source": "scripts/gen_format_v2_vectors.py (fixed inputs; keys from crypto-v1.json's "
        "master key and repository ID)",
        "master": MASTER.hex(),
        "repo_id": REPO_ID.hex(),
        "tree": {
            "stream": stream.hex(),
            "sha256": hashlib.sha256(stream).hexdigest(),
            "pieces": [p.hex() for p in pieces],
            "blob_ids": [i.hex() for i in ids],
        },
        "snapshot": {"msgpack": snapshot_msgpack(snap).hex()},
        "forget": {"msgpack": forget_msgpack(sample_forget()).hex()},
    }


def main() -> int:
    doc = json.dumps(build(), indent=2) + "\n"
    if "--check" in sys.argv[1:]:
        if OUT.read_text() != doc:
            print(f"{OUT} is out of date; run {sys.argv[0]}", file=sys.stderr)
            return 1
        print(f"{OUT} is current")
        return 0
    OUT.write_text(doc)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
