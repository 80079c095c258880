"""Checking a restore against the live folder: media byte-identical, database equivalent.

Media must match byte for byte. The database matches byte for byte, or page for page (an
online-backup copy differs only in three header counters), or, for Coffer's logical mode,
holds the same schema and rows (canonical dumps equal) and passes ``PRAGMA integrity_check``.
"""

from __future__ import annotations

import filecmp
import sqlite3
from contextlib import closing
from pathlib import Path

from coffer.sqlite.logical import canonical_dump

# header fields the online-backup API rewrites: change counter, schema cookie, version-valid-for
_COUNTERS = (range(24, 28), range(40, 44), range(92, 96))


def _same_pages(a: Path, b: Path) -> bool:
    """Byte-identical except the header counters the online-backup API rewrites."""
    if a.stat().st_size != b.stat().st_size:
        return False
    with a.open("rb") as fa, b.open("rb") as fb:
        ha, hb = bytearray(fa.read(100)), bytearray(fb.read(100))
        for span in _COUNTERS:
            for i in span:
                ha[i] = hb[i] = 0
        if ha != hb:
            return False
        while True:
            pa, pb = fa.read(1 << 20), fb.read(1 << 20)
            if pa != pb:
                return False
            if not pa:
                return True


def verify(live: Path, restored: Path) -> str:
    """Say how the DB matched: "bytes", "pages" (all but the header counters the online-backup
    API rewrites) or "logical"; raise AssertionError on a mismatch."""
    live_files = sorted(p.relative_to(live) for p in live.rglob("*") if p.is_file())
    got_files = sorted(p.relative_to(restored) for p in restored.rglob("*") if p.is_file())
    if live_files != got_files:
        missing = set(live_files) ^ set(got_files)
        raise AssertionError(f"file lists differ: {sorted(missing)[:5]}")
    for rel in live_files:
        if rel.name == "msgstore.db":
            continue
        if not filecmp.cmp(live / rel, restored / rel, shallow=False):
            raise AssertionError(f"{rel} differs")
    db_live, db_got = live / "msgstore.db", restored / "msgstore.db"
    if filecmp.cmp(db_live, db_got, shallow=False):
        return "bytes"
    if _same_pages(db_live, db_got):
        return "pages"
    with closing(sqlite3.connect(db_got)) as conn:
        if conn.execute("PRAGMA integrity_check").fetchall() != [("ok",)]:
            raise AssertionError("restored database fails integrity_check")
    for a, b in zip(canonical_dump(db_live), canonical_dump(db_got), strict=True):
        if a != b:
            raise AssertionError(f"database rows differ: {a[:80]!r} != {b[:80]!r}")
    return "logical"
