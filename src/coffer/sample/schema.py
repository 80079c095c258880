"""The fixed schema of a generated chat store (modelled on a messaging app's ``msgstore.db``).

Rules: the DDL is part of the dataset's format — changing a statement changes every generated
file. ``APPLICATION_ID`` marks a database as ours so ``apply_next_day`` can refuse other files.

Shape: ``contacts``, ``chats`` and ``group_participants`` (WITHOUT ROWID) are small; ``messages``
is the bulk, with an index on ``(chat_id, timestamp)`` and a UNIQUE index on a random 128-bit
``key_id``, so new messages dirty index pages all over the file, as in a real app; ``receipts``
is a WITHOUT ROWID table keyed by ``(message_row_id, contact_id)`` (as apps key receipts, so
new receipts land at its end); ``message_reactions`` is a WITHOUT ROWID table keyed by the
random ``(message_key, sender_id)`` (sender 0 is the user), so its new rows land all over; ``media``
rows point at files under ``media/`` by relative path, with size and SHA-256.
"""

from __future__ import annotations

import sqlite3

APPLICATION_ID = 0x43465231  # "CFR1"
USER_VERSION = 1

DDL = (
    """CREATE TABLE contacts (
    _id INTEGER PRIMARY KEY,
    jid TEXT NOT NULL UNIQUE,
    display_name TEXT,
    status_text TEXT,
    photo_ts INTEGER)""",
    """CREATE TABLE chats (
    _id INTEGER PRIMARY KEY,
    jid TEXT NOT NULL UNIQUE,
    subject TEXT,
    is_group INTEGER NOT NULL,
    created_ts INTEGER NOT NULL,
    last_message_id INTEGER,
    archived INTEGER NOT NULL DEFAULT 0)""",
    """CREATE TABLE group_participants (
    chat_id INTEGER NOT NULL,
    contact_id INTEGER NOT NULL,
    admin INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (chat_id, contact_id)) WITHOUT ROWID""",
    """CREATE TABLE messages (
    _id INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id INTEGER NOT NULL REFERENCES chats(_id),
    remote_jid TEXT NOT NULL,
    sender_id INTEGER REFERENCES contacts(_id),
    key_id BLOB NOT NULL,
    from_me INTEGER NOT NULL,
    timestamp INTEGER NOT NULL,
    received_ts INTEGER,
    status INTEGER NOT NULL,
    media_type INTEGER NOT NULL DEFAULT 0,
    text_data TEXT,
    starred INTEGER NOT NULL DEFAULT 0)""",
    "CREATE INDEX messages_chat_time ON messages (chat_id, timestamp)",
    "CREATE UNIQUE INDEX messages_key ON messages (key_id)",
    """CREATE TABLE receipts (
    message_row_id INTEGER NOT NULL,
    contact_id INTEGER NOT NULL,
    status INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    PRIMARY KEY (message_row_id, contact_id)) WITHOUT ROWID""",
    """CREATE TABLE message_reactions (
    message_key BLOB NOT NULL,
    sender_id INTEGER NOT NULL,
    reaction TEXT NOT NULL,
    ts INTEGER NOT NULL,
    PRIMARY KEY (message_key, sender_id)) WITHOUT ROWID""",
    """CREATE TABLE media (
    _id INTEGER PRIMARY KEY,
    message_id INTEGER NOT NULL REFERENCES messages(_id),
    kind TEXT NOT NULL,
    file_path TEXT NOT NULL,
    file_size INTEGER NOT NULL,
    mime_type TEXT NOT NULL,
    media_key BLOB NOT NULL,
    file_hash BLOB NOT NULL,
    duration_ms INTEGER,
    width INTEGER,
    height INTEGER)""",
    "CREATE INDEX media_message ON media (message_id)",
)

MESSAGE_COLUMNS = (
    "_id, chat_id, remote_jid, sender_id, key_id, from_me, timestamp, received_ts, status, "
    "media_type, text_data, starred"
)
MEDIA_COLUMNS = (
    "_id, message_id, kind, file_path, file_size, mime_type, media_key, file_hash, duration_ms, "
    "width, height"
)

STATUS_RECEIVED = 0
STATUS_SERVER_ACK = 4
STATUS_DELIVERED = 5
STATUS_READ = 13

MEDIA_NONE = 0
MEDIA_IMAGE = 1
MEDIA_VOICE = 2


def create_schema(conn: sqlite3.Connection) -> None:
    """Create every table and index and stamp the identifying pragmas."""
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version = {USER_VERSION}")
    for statement in DDL:
        conn.execute(statement)


def is_chat_store(conn: sqlite3.Connection) -> bool:
    """True when the database carries our application id."""
    row = conn.execute("PRAGMA application_id").fetchone()
    return row is not None and row[0] == APPLICATION_ID
