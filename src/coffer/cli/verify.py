"""Compare a restored chat store with its source: files byte for byte, databases by content.

Used by ``coffer demo`` and the tests. A restored SQLite database is a consistent copy, not a
byte copy, of the live file, so it is compared by ``PRAGMA integrity_check`` and by a digest of
every table's rows in rowid/primary-key order.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

from coffer.sqlite.capture import companion_of, is_sqlite_header


def table_digest(db: Path) -> dict[str, str]:
    """SHA-256 of each table's rows (schema included) in a deterministic order."""
    con = sqlite3.connect(f"file:{db.as_posix()}?mode=ro", uri=True)
    try:
        out = {}
        tables = con.execute(
            "SELECT name, sql FROM sqlite_schema WHERE type='table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        ).fetchall()
        for name, sql in tables:
            h = hashlib.sha256(str(sql).encode())
            quoted = '"' + name.replace('"', '""') + '"'
            width = len(con.execute(f"SELECT * FROM {quoted} LIMIT 0").description)
            order = ", ".join(str(i) for i in range(1, width + 1))  # every column: total order
            for row in con.execute(f"SELECT * FROM {quoted} ORDER BY {order}"):
                h.update(repr(row).encode())
            out[name] = h.hexdigest()
        return out
    finally:
        con.close()


def integrity_ok(db: Path) -> bool:
    con = sqlite3.connect(f"file:{db.as_posix()}?mode=ro", uri=True)
    try:
        return bool(con.execute("PRAGMA integrity_check").fetchone()[0] == "ok")
    finally:
        con.close()


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def compare_trees(source: Path, restored: Path) -> list[str]:
    """Return a list of differences (empty when the restore is faithful)."""
    problems = []
    for root, _dirs, files in os.walk(source):
        for name in files:
            src = Path(root) / name
            rel = src.relative_to(source)
            dst = restored / rel
            if companion_of(src) is not None:
                continue
            if not dst.exists():
                problems.append(f"missing: {rel}")
                continue
            with open(src, "rb") as fh:
                is_db = is_sqlite_header(fh.read(16))
            if is_db:
                if not integrity_ok(dst):
                    problems.append(f"integrity_check failed: {rel}")
                elif table_digest(src) != table_digest(dst):
                    problems.append(f"rows differ: {rel}")
            elif _file_digest(src) != _file_digest(dst):
                problems.append(f"content differs: {rel}")
            elif src.stat().st_mtime_ns != dst.stat().st_mtime_ns:
                problems.append(f"mtime differs: {rel}")
            elif (src.stat().st_mode & 0o7777) != (dst.stat().st_mode & 0o7777):
                problems.append(f"mode differs: {rel}")
    return problems
