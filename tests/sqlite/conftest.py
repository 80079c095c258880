"""Helpers for the logical-mode tests: build a database from a script, round-trip it."""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from coffer.sqlite.logical import canonical_dump, dump_logical, restore_logical


def make_db(path: Path, script: str, *, pre: str = "") -> Path:
    """Create ``path`` running ``pre`` (pragmas that must come first) and then ``script``."""
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        if pre:
            conn.executescript(pre)
        conn.executescript(script)
    return path


def dump_bytes(db: Path) -> bytes:
    out = io.BytesIO()
    stats = dump_logical(db, out)
    assert stats.bytes == len(out.getvalue())
    return out.getvalue()


def round_trip(db: Path, target: Path) -> bytes:
    """Dump ``db``, restore into ``target``, check canonical dumps, integrity and idempotence."""
    stream = dump_bytes(db)
    restore_logical(io.BytesIO(stream), target)
    assert list(canonical_dump(target)) == list(canonical_dump(db))
    with closing(sqlite3.connect(target)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert dump_bytes(target) == stream  # restoring then dumping reproduces the stream
    return stream


@pytest.fixture
def make() -> Callable[..., Path]:
    return make_db


@pytest.fixture
def dump() -> Callable[[Path], bytes]:
    return dump_bytes


@pytest.fixture
def trip() -> Callable[[Path, Path], bytes]:
    return round_trip
