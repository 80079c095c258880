"""``apply_next_day``: one more day of chatting on a generated chat store.

Rules: day ``d`` adds ``spec.next_day_messages`` messages (1% by default) with timestamps in
``[history_end + (d-1) day, history_end + d day)``, marks up to ``next_day_status_updates`` of
the user's own unread messages as read (message row and receipts), and adds
``next_day_media`` media files. Same spec and day → same bytes. Applying a day whose time span
is already present raises :class:`~coffer.sample.errors.SampleError`.

Theory: the app's writes are reproduced as it would do them — appends at the end of the
messages table, inserts all over the random-key index and the receipts table, in-place updates
of a few hundred older rows and of the chats' ``last_message_id``.
"""

from __future__ import annotations

import random
import sqlite3
import time
from contextlib import closing
from pathlib import Path

from coffer.sample import schema
from coffer.sample.errors import NotAChatStore, SampleError
from coffer.sample.generate import DB_NAME, stamp_mtime
from coffer.sample.media import draw_item
from coffer.sample.messages import Run, insert_run, update_last_messages
from coffer.sample.spec import DAY_MS, ChatStoreSpec, GenerateStats
from coffer.sample.world import World


def apply_next_day(root: Path, spec: ChatStoreSpec, day: int = 1) -> GenerateStats:
    """Add day ``day`` (1-based) of messages, read receipts and media to the store at ``root``."""
    started = time.perf_counter()
    if day < 1:
        raise SampleError("day must be >= 1")
    db_path = root / DB_NAME
    if not db_path.is_file():
        raise NotAChatStore(f"no {DB_NAME} under {root}")
    rng = random.Random(f"coffer-sample/{spec.seed}/day/{day}")
    with closing(sqlite3.connect(db_path, isolation_level=None)) as conn:
        if not schema.is_chat_store(conn):
            raise NotAChatStore(f"{db_path} is not a generated chat store")
        run = _plan_day(conn, root, spec, day, rng)
        conn.execute("BEGIN IMMEDIATE")
        added = insert_run(conn, World(spec), run, rng)
        update_last_messages(conn, added.last_message_of_chat)
        updates = _mark_read(conn, rng, spec.next_day_status_updates, run.end_ms)
        conn.execute("COMMIT")
    stamp_mtime(db_path, run.end_ms)
    return GenerateStats(
        messages=added.messages,
        receipts=added.receipts,
        status_updates=updates,
        media_files=added.media_files,
        media_bytes=added.media_bytes,
        db_bytes=db_path.stat().st_size,
        seconds=time.perf_counter() - started,
        reactions=added.reactions,
    )


def _plan_day(
    conn: sqlite3.Connection, root: Path, spec: ChatStoreSpec, day: int, rng: random.Random
) -> Run:
    start = spec.history_end_ms + (day - 1) * DAY_MS
    last_id, last_ts = conn.execute(
        "SELECT coalesce(max(_id), 0), coalesce(max(timestamp), 0) FROM messages"
    ).fetchone()
    if last_ts >= start:
        raise SampleError(f"day {day} (or a later one) was already applied")
    (last_media,) = conn.execute("SELECT coalesce(max(_id), 0) FROM media").fetchone()
    count = spec.next_day_messages
    media = [draw_item(spec, rng) for _ in range(min(count, spec.next_day_media))]
    return Run(
        first_id=last_id + 1,
        count=count,
        start_ms=start,
        end_ms=start + DAY_MS,
        unread_from_ms=start,
        media=media,
        first_media_id=last_media + 1,
        root=root,
        seed=spec.seed,
    )


def _mark_read(conn: sqlite3.Connection, rng: random.Random, limit: int, now_ms: int) -> int:
    candidates = conn.execute(
        "SELECT _id FROM messages WHERE from_me = 1 AND status < ? ORDER BY _id",
        (schema.STATUS_READ,),
    ).fetchall()
    chosen = sorted(rng.sample(candidates, min(limit, len(candidates))))
    conn.executemany(
        "UPDATE messages SET status = ? WHERE _id = ?",
        [(schema.STATUS_READ, msg_id) for (msg_id,) in chosen],
    )
    conn.executemany(
        "UPDATE receipts SET status = ?, ts = ? WHERE message_row_id = ?",
        [(schema.STATUS_READ, now_ms - rng.randrange(DAY_MS), msg_id) for (msg_id,) in chosen],
    )
    return len(chosen)
