"""Fixtures of the Python API tests: a small chat store and an embedded key vault."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from password.support import SETTINGS

from coffer.vault.embedded import EmbeddedVault


def make_chat_store(root: Path, messages: int = 2000) -> Path:
    (root / "media").mkdir(parents=True)
    db = sqlite3.connect(root / "msgstore.db")
    db.execute("CREATE TABLE messages (id INTEGER PRIMARY KEY, chat TEXT, body TEXT)")
    db.executemany(
        "INSERT INTO messages (chat, body) VALUES (?, ?)",
        [(f"chat{i % 5}", f"message {i} " * 10) for i in range(messages)],
    )
    db.commit()
    db.close()
    (root / "media" / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(200_000))
    (root / "media" / "cache.tmp").write_bytes(b"t" * 5000)
    (root / "notes.txt").write_text("hello\n" * 500)
    return root


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return make_chat_store(tmp_path / "chat-store")


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[EmbeddedVault]:
    with EmbeddedVault(tmp_path / "vault", SETTINGS) as v:
        yield v
