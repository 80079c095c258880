"""Generate tests/vectors/sqlite-stream-v2.json: row blocks and whole streams of format v2.

Usage: ``python scripts/gen_sqlite_stream_vectors.py [--check]``. ``--check`` regenerates in
memory and fails if the file differs (the blocks are a function of the rows alone; the stream
vector is decoded by the tests, whatever SQLite version made it).

Contents:
- ``blocks``: rows (values written as tagged JSON: ``{"int": n}``, ``{"real": float.hex}``,
  ``{"text": s}``, ``{"raw_text": hex}``, ``{"blob": hex}``, ``null``) and the block payload
  :func:`coffer.sqlite.codec2.encode_block` makes for them, in hex;
- ``bad_blocks``: payloads the decoder must refuse, with why (a map or array inside a row
  decodes, and is refused by the rebuild's parameter binding instead: tests/sqlite/test_codec2);
- ``stream``: a small database's whole logical stream (hex) and the canonical dump lines a
  restore of it must give.
"""

from __future__ import annotations

import io
import json
import sqlite3
import sys
import tempfile
from contextlib import closing
from pathlib import Path
from typing import Any

from coffer.sqlite.codec import RawText
from coffer.sqlite.codec2 import encode_block
from coffer.sqlite.logical import canonical_dump, dump_logical

OUT = Path(__file__).resolve().parent.parent / "tests" / "vectors" / "sqlite-stream-v2.json"

ROWS: list[list[list[Any]]] = [
    [[]],
    [[None]],
    [[0, 1, -1, 127, 128, -32, -33, 255, 256, 65535, 65536, 2**31, -(2**31) - 1]],
    [[2**63 - 1, -(2**63), 2**32, -(2**32)]],
    [[0.0, -0.0, 1.5, float("inf"), float("-inf"), 1e-300]],
    [["", "a", "é✓👍", "x" * 31, "y" * 32, "z" * 256, "w" * 65536]],
    [[b"", b"\x00", b"\xff" * 300]],
    [[RawText(b"\xff\xfe"), "ok"]],
    [[1, "first", b"k1"], [2, "second", None], [3, None, 2.25]],
]

BAD = [
    ("", "shorter than the row count"),
    ("9101" + "00000002", "row count says 2, one row"),
    ("91cd0001" + "00000001", "integer not in its shortest form"),
    ("91ca3fc00000" + "00000001", "float 32"),
    ("91d40200" + "00000001", "ext type 2"),
    ("91a1ff" + "00000001", "str that is not UTF-8"),
    ("910100" + "00000001", "trailing bytes"),
]

SCRIPT = """
PRAGMA user_version = 7;
CREATE TABLE chat (_id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE msg (_id INTEGER PRIMARY KEY, chat INTEGER REFERENCES chat(_id), body TEXT,
                  key BLOB, score REAL);
CREATE INDEX msg_chat ON msg (chat, _id);
CREATE TABLE rec (m INTEGER, c INTEGER, s INTEGER, PRIMARY KEY (m, c)) WITHOUT ROWID;
CREATE TABLE loose (a, b);
INSERT INTO chat VALUES (1, 'family'), (2, 'work ✓');
INSERT INTO msg VALUES (1, 1, 'hello', x'00ff', 0.5), (2, 2, NULL, NULL, -0.0),
                       (3, 1, 'é', x'', 1e300);
INSERT INTO rec VALUES (1, 2, 13), (1, 3, 5), (3, 2, 13);
INSERT INTO loose VALUES (NULL, 1), ('x', 2.5);
"""


def tagged(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, RawText):
        return {"raw_text": bytes(value).hex()}
    if isinstance(value, bool):
        raise TypeError("no booleans in SQLite rows")
    if isinstance(value, int):
        return {"int": value}
    if isinstance(value, float):
        return {"real": value.hex()}
    if isinstance(value, str):
        return {"text": value}
    return {"blob": bytes(value).hex()}


def build() -> dict[str, Any]:
    blocks = [
        {"rows": [[tagged(v) for v in row] for row in rows], "payload": encode_block(rows).hex()}
        for rows in ROWS
    ]
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "v.db"
        with closing(sqlite3.connect(db, isolation_level=None)) as conn:
            conn.executescript(SCRIPT)
        out = io.BytesIO()
        dump_logical(db, out)
        lines = list(canonical_dump(db))
    return {
        "source": "scripts/gen_sqlite_stream_vectors.py (Coffer, format version 2, msgspec "
        "MessagePack); stream made with SQLite " + sqlite3.sqlite_version,
        "blocks": blocks,
        "bad_blocks": [{"payload": p, "why": why} for p, why in BAD],
        "stream": {"hex": out.getvalue().hex(), "canonical": lines},
    }


def main(argv: list[str]) -> int:
    doc = build()
    text = json.dumps(doc, indent=1, ensure_ascii=False) + "\n"
    if "--check" in argv:
        current = json.loads(OUT.read_text())
        same = current["blocks"] == doc["blocks"] and current["bad_blocks"] == doc["bad_blocks"]
        print("vectors are current" if same else "vectors differ from the generator")
        return 0 if same else 1
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
