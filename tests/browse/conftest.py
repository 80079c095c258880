"""A repository with two snapshots of a "phone" folder holding every app the browser knows.

Snapshot 1 stores the databases in logical mode, snapshot 2 (a day later: new WhatsApp
messages and a new chat) in page mode, so both rebuild paths are exercised. Built once per test
session (per xdist worker).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest
from engine.conftest import SMALL_PARAMS
from starlette.testclient import TestClient

from coffer.backends.local import LocalBackend
from coffer.browse.app import make_app
from coffer.browse.catalog import Catalog
from coffer.browse.workspace import Workspace
from coffer.crypto.recovery import RecoveryKey
from coffer.crypto.slots import SlotKind
from coffer.engine.repository import Repository
from coffer.ops.backup import BackupOptions, backup

from . import stores

TOKEN = "test-token-0123456789abcdefghijklmnopqrstuv"


@dataclass
class Phone:
    root: Path
    repo_path: Path
    key: RecoveryKey
    snapshots: list[str]  # oldest first

    def open(self) -> Repository:
        repo = Repository.open(LocalBackend(self.repo_path), SlotKind.RECOVERY, self.key.secret)
        repo.load_index()
        return repo


def _next_day(phone: Path) -> None:
    db = phone / "WhatsApp" / "Databases" / "msgstore.db"
    with closing(sqlite3.connect(db)) as conn:
        base = stores.BASE_MS + stores.DAY * 40
        conn.execute("INSERT INTO jid (_id, user, server, agent, device, type, raw_string) "
                     "VALUES (4, '15551230009', 's.whatsapp.net', 0, 0, 0, "
                     "'15551230009@s.whatsapp.net')")  # fmt: skip
        conn.execute("INSERT INTO chat (_id, jid_row_id, hidden, created_timestamp, archived) "
                      "VALUES (3, 4, 0, ?, 0)", (base,))  # fmt: skip
        rows = [(200 + i, 1, 0, f"NEW{i}", 1, base + i * stores.MINUTE, 0, f"new day message {i}")
                for i in range(5)]  # fmt: skip
        rows.append((210, 3, 0, "NEW10", 4, base + 10 * stores.MINUTE, 0, "hello from a new chat"))
        conn.executemany(
            "INSERT INTO message (_id, chat_row_id, from_me, key_id, sender_jid_row_id, "
            "timestamp, message_type, text_data, status, sort_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
            "13, 0)",
            rows,
        )
        conn.commit()


@pytest.fixture(scope="session")
def phone(tmp_path_factory: pytest.TempPathFactory) -> Phone:
    root = tmp_path_factory.mktemp("browse")
    device = root / "phone"
    device.mkdir()
    stores.sample_store(device)
    stores.whatsapp_store(device)
    stores.imessage_store(device)
    stores.telegram_export(device)
    stores.generic_db(device)
    repo_path = root / "repo"
    repo = Repository.init(LocalBackend(repo_path), SMALL_PARAMS)
    key = RecoveryKey.generate()
    repo.add_slot(SlotKind.RECOVERY, key.secret)
    first = backup(repo, [device], BackupOptions(hostname="phone")).snapshot.id
    _next_day(device)
    second = backup(repo, [device], BackupOptions(hostname="phone", db_mode="pages")).snapshot.id
    return Phone(device, repo_path, key, [first, second])


@pytest.fixture(scope="session")
def catalog(phone: Phone) -> Iterator[Catalog]:
    with Workspace() as ws:
        cat = Catalog(phone.open(), ws)
        for snap in phone.snapshots:
            cat.view(snap)  # rebuilt before the tests ask (the app answers "preparing" meanwhile)
        yield cat
        cat.close()


@pytest.fixture(scope="session")
def client(catalog: Catalog) -> Iterator[TestClient]:
    app = make_app(catalog, TOKEN, {"testserver"})
    with TestClient(app, base_url="http://testserver") as c:
        yield c
