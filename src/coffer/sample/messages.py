"""Appending a run of messages (with receipts and media) in time order across chats.

Rules: one call inserts ``count`` messages with consecutive ids after the current maximum,
timestamps increasing inside ``[start_ms, end_ms)``, in one transaction opened by the caller.
Every random choice comes from the RNG handed in, in a fixed order.

Theory: chat apps insert messages as they arrive, so rowids follow time while chats interleave;
``from_me`` messages get receipts (one per reader, a WITHOUT ROWID row keyed by the random
message key) and recent ones are left "delivered" so a later day can mark them "read".
"""

from __future__ import annotations

import random
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from coffer.sample import schema
from coffer.sample.media import MediaItem, media_row, relpath, write_media
from coffer.sample.text import caption, message_text
from coffer.sample.world import Chat, World

BATCH = 10_000
REACTIONS = ("👍", "❤️", "😂", "😮", "😢", "🙏")
Row = tuple[object, ...]


@dataclass
class Run:
    """What to insert: ``count`` messages in ``[start_ms, end_ms)`` carrying ``media`` items."""

    first_id: int
    count: int
    start_ms: int
    end_ms: int
    unread_from_ms: int
    media: list[MediaItem]
    first_media_id: int
    root: Path
    seed: int


@dataclass
class Added:
    messages: int = 0
    receipts: int = 0
    reactions: int = 0
    media_files: int = 0
    media_bytes: int = 0
    last_message_of_chat: dict[int, int] = field(default_factory=dict)


def insert_run(conn: sqlite3.Connection, world: World, run: Run, rng: random.Random) -> Added:
    """Insert the run's messages, receipts and media rows; write its media files."""
    media_at = dict(
        zip(sorted(rng.sample(range(run.count), len(run.media))), run.media, strict=True)
    )
    gap = max(1, (run.end_ms - run.start_ms) // (run.count + 1))
    added, ts = Added(), run.start_ms
    for base in range(0, run.count, BATCH):
        rows: list[Row] = []
        receipts: list[Row] = []
        media_rows: list[Row] = []
        reactions: list[Row] = []
        for chat in world.pick_chats(rng, min(BATCH, run.count - base)):
            index = base + len(rows)
            ts = min(run.end_ms - 1, ts + 1 + int(rng.expovariate(1.0 / gap)))
            msg_id = run.first_id + index
            row, recs = _message(rng, chat, msg_id, ts, ts < run.unread_from_ms, reactions)
            item = media_at.get(index)
            if item is not None:
                row = _attach(row, item, rng)
                media_rows.append(_media(run, added, item, msg_id, ts, rng))
            rows.append(row)
            receipts.extend(recs)
            added.last_message_of_chat[chat.id] = msg_id
        _flush(conn, rows, receipts, media_rows)
        conn.executemany(f"INSERT INTO message_reactions VALUES ({_q(4)})", reactions)
        added.reactions += len(reactions)
        added.messages += len(rows)
        added.receipts += len(receipts)
    return added


def _message(
    rng: random.Random, chat: Chat, msg_id: int, ts: int, settled: bool, reactions: list[Row]
) -> tuple[Row, list[Row]]:
    key = rng.randbytes(16)
    from_me = rng.random() < 0.4
    starred = int(rng.random() < 0.005)
    text = message_text(rng)
    receipts: list[Row] = []
    if from_me:
        sender, received = None, None
        status = schema.STATUS_READ if settled or rng.random() < 0.4 else schema.STATUS_DELIVERED
        count = len(chat.members) if not chat.is_group else rng.randint(1, 8)
        for reader in rng.sample(chat.members, min(len(chat.members), count)):
            receipts.append((msg_id, reader, status, ts + rng.randint(1_000, 3_600_000)))
    else:
        sender, received = rng.choice(chat.members), ts + rng.randint(50, 5_000)
        status = schema.STATUS_RECEIVED
    if rng.random() < 0.03:
        reactor = rng.choice(chat.members) if from_me else 0
        reactions.append((key, reactor, rng.choice(REACTIONS), ts + rng.randint(1_000, 600_000)))
    row: Row = (msg_id, chat.id, chat.jid, sender, key, int(from_me), ts, received, status,
                schema.MEDIA_NONE, text, starred)  # fmt: skip
    return row, receipts


def _attach(row: Row, item: MediaItem, rng: random.Random) -> Row:
    if item.kind == "image":
        return (*row[:9], schema.MEDIA_IMAGE, caption(rng), row[11])
    return (*row[:9], schema.MEDIA_VOICE, None, row[11])


def _media(
    run: Run, added: Added, item: MediaItem, msg_id: int, ts: int, rng: random.Random
) -> Row:
    media_id = run.first_media_id + added.media_files
    rel = relpath(item, media_id, ts)
    digest = write_media(run.root, rel, item, run.seed, media_id, ts)
    added.media_files += 1
    added.media_bytes += item.size
    return media_row(media_id, msg_id, item, rel, digest, rng)


def _flush(
    conn: sqlite3.Connection,
    rows: list[Row],
    receipts: list[Row],
    media_rows: list[Row],
) -> None:
    conn.executemany(f"INSERT INTO messages ({schema.MESSAGE_COLUMNS}) VALUES ({_q(12)})", rows)
    conn.executemany(f"INSERT INTO receipts VALUES ({_q(4)})", receipts)
    conn.executemany(f"INSERT INTO media ({schema.MEDIA_COLUMNS}) VALUES ({_q(11)})", media_rows)


def _q(n: int) -> str:
    return ", ".join("?" * n)


def update_last_messages(conn: sqlite3.Connection, last: dict[int, int]) -> None:
    """Point each touched chat at its newest message (as the app does on every message)."""
    conn.executemany(
        "UPDATE chats SET last_message_id = ? WHERE _id = ?",
        sorted((msg_id, chat_id) for chat_id, msg_id in last.items()),
    )
