"""``generate_chat_store``: a fresh chat store (``msgstore.db`` + ``media/``) for a spec.

Rules: refuses to overwrite an existing ``msgstore.db``; never reads the clock for content (only
to time itself); the database is closed in rollback-journal mode, so the folder holds exactly
``msgstore.db`` and ``media/`` when it returns.

Theory: schema and indexes first, then contacts, chats and members, then messages inserted in
time order in batches of ``executemany`` inside one transaction — the indexes grow the way an
app's do (the random-key index is split all over), which is what makes page-level incrementals
hard and the dataset realistic.
"""

from __future__ import annotations

import os
import random
import sqlite3
import time
from contextlib import closing
from pathlib import Path

from coffer.sample import schema
from coffer.sample.errors import StoreExists
from coffer.sample.media import plan_media
from coffer.sample.messages import Run, insert_run, update_last_messages
from coffer.sample.spec import DAY_MS, ChatStoreSpec, GenerateStats
from coffer.sample.world import World

DB_NAME = "msgstore.db"
MEDIA_DIR = "media"


def generate_chat_store(root: Path, spec: ChatStoreSpec) -> GenerateStats:
    """Write ``root/msgstore.db`` and ``root/media/...`` for ``spec``: same spec, same bytes."""
    started = time.perf_counter()
    db_path = root / DB_NAME
    if db_path.exists():
        raise StoreExists(f"{db_path} already exists")
    root.mkdir(parents=True, exist_ok=True)
    world = World(spec)
    rng = random.Random(f"coffer-sample/{spec.seed}/history")
    media = plan_media(spec, random.Random(f"coffer-sample/{spec.seed}/media-plan"))
    run = Run(
        first_id=1,
        count=spec.messages,
        start_ms=spec.history_start_ms,
        end_ms=spec.history_end_ms,
        unread_from_ms=spec.history_end_ms - 2 * DAY_MS,
        media=media,
        first_media_id=1,
        root=root,
        seed=spec.seed,
    )
    with closing(sqlite3.connect(db_path, isolation_level=None)) as conn:
        conn.execute("PRAGMA journal_mode = MEMORY")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -65536")
        conn.execute("BEGIN")
        schema.create_schema(conn)
        _insert_world(conn, world)
        added = insert_run(conn, world, run, rng)
        update_last_messages(conn, added.last_message_of_chat)
        conn.execute("COMMIT")
    stamp_mtime(db_path, spec.history_end_ms)
    return GenerateStats(
        messages=added.messages,
        receipts=added.receipts,
        status_updates=0,
        media_files=added.media_files,
        media_bytes=added.media_bytes,
        db_bytes=db_path.stat().st_size,
        seconds=time.perf_counter() - started,
        reactions=added.reactions,
    )


def stamp_mtime(path: Path, ts_ms: int) -> None:
    """Give the database a seed-derived mtime, so the whole tree is reproducible."""
    ns = ts_ms * 1_000_000
    os.utime(path, ns=(ns, ns))


def _insert_world(conn: sqlite3.Connection, world: World) -> None:
    conn.executemany("INSERT INTO contacts VALUES (?, ?, ?, ?, ?)", world.contact_rows())
    conn.executemany("INSERT INTO chats VALUES (?, ?, ?, ?, ?, ?, ?)", world.chat_rows())
    conn.executemany("INSERT INTO group_participants VALUES (?, ?, ?)", world.participant_rows())
