"""Generators of realistic app folders for the browse tests (schemas from public documentation).

Each function writes one app's folder the way the app lays it out, with a handful of chats, a
reply, an image, a voice note, a document, and hostile text and file names (HOSTILE) that must
never execute in the browser.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

from coffer.browse.adapters.typedstream import encode_attributed
from coffer.sample import ChatStoreSpec, generate_chat_store

from .media_files import jpeg, png, wav, webm

HOSTILE_TEXT = (
    "<img src=x onerror=alert(1)> </script><script>alert(2)</script> \" onmouseover=alert(3) '"
)
HOSTILE_NAME = "<img src=x onerror=alert(4)>.jpg"
BASE_MS = 1_704_103_200_000  # 2024-01-01 10:00 UTC
MINUTE = 60_000
DAY = 86_400_000


def sample_store(root: Path) -> Path:
    """Coffer's sample store (coffer.sample), with a real photo, a real voice note, hostile text."""
    store = root / "chat-store"
    spec = ChatStoreSpec(seed=7, messages=3000, contacts=30, chats=12, media_bytes=2_000_000,
                         photo_range=(2000, 20000), voice_range=(2000, 20000))  # fmt: skip
    generate_chat_store(store, spec)
    with closing(sqlite3.connect(store / "msgstore.db")) as conn:
        rows = conn.execute("SELECT kind, file_path FROM media ORDER BY _id").fetchall()
        done = set()
        for kind, rel in rows:
            if kind in done:
                continue
            (store / rel).write_bytes(jpeg(label="sample") if kind == "image" else wav())
            done.add(kind)
        chat, ts = conn.execute(
            "SELECT chat_id, max(timestamp) FROM messages GROUP BY chat_id ORDER BY 2 DESC"
        ).fetchone()
        conn.execute(
            "INSERT INTO messages (chat_id, remote_jid, sender_id, key_id, from_me, timestamp, "
            "status, media_type, text_data) VALUES (?, 'x', 1, randomblob(16), 0, ?, 0, 0, ?)",
            (chat, ts + 1000, HOSTILE_TEXT),
        )
        conn.commit()
    return store


WA_DDL = """
CREATE TABLE jid (_id INTEGER PRIMARY KEY AUTOINCREMENT, user TEXT NOT NULL, server TEXT NOT NULL,
  agent INTEGER, device INTEGER, type INTEGER, raw_string TEXT);
CREATE UNIQUE INDEX jid_key_index ON jid (user, server, agent, device);
CREATE TABLE chat (_id INTEGER PRIMARY KEY AUTOINCREMENT, jid_row_id INTEGER UNIQUE, hidden INTEGER,
  subject TEXT, created_timestamp INTEGER, display_message_row_id INTEGER,
  last_message_row_id INTEGER, last_read_message_row_id INTEGER, archived INTEGER,
  sort_timestamp INTEGER, group_type INTEGER);
CREATE TABLE message (_id INTEGER PRIMARY KEY AUTOINCREMENT, chat_row_id INTEGER NOT NULL,
  from_me INTEGER NOT NULL, key_id TEXT NOT NULL, sender_jid_row_id INTEGER, status INTEGER,
  broadcast INTEGER, recipient_count INTEGER, participant_hash TEXT, origination_flags INTEGER,
  origin INTEGER, timestamp INTEGER, received_timestamp INTEGER, receipt_server_timestamp INTEGER,
  message_type INTEGER, text_data TEXT, starred INTEGER, lookup_tables INTEGER,
  sort_id INTEGER NOT NULL DEFAULT 0);
CREATE INDEX message_sort_id_index ON message (sort_id);
CREATE UNIQUE INDEX message_key_index ON message (chat_row_id, from_me, key_id, sender_jid_row_id);
CREATE TABLE message_media (message_row_id INTEGER PRIMARY KEY, chat_row_id INTEGER,
  autotransfer_retry_enabled INTEGER, multicast_id TEXT, media_job_uuid TEXT, transferred INTEGER,
  transcoded INTEGER, file_path TEXT, file_size INTEGER, suspicious_content INTEGER,
  trim_from INTEGER, trim_to INTEGER, face_x INTEGER, face_y INTEGER, media_key BLOB,
  media_key_timestamp INTEGER, width INTEGER, height INTEGER, has_streaming_sidecar INTEGER,
  gif_attribution INTEGER, thumbnail_height_width_ratio REAL, direct_path TEXT,
  first_scan_sidecar BLOB, first_scan_length INTEGER, message_url TEXT, mime_type TEXT,
  file_length INTEGER, media_name TEXT, file_hash TEXT, media_duration INTEGER,
  page_count INTEGER, enc_file_hash TEXT, partial_media_hash TEXT,
  partial_media_enc_hash TEXT, is_animated_sticker INTEGER, original_file_hash TEXT,
  mute_video INTEGER, media_caption TEXT);
CREATE TABLE message_quoted (message_row_id INTEGER PRIMARY KEY, chat_row_id INTEGER NOT NULL,
  parent_message_chat_row_id INTEGER NOT NULL, from_me INTEGER NOT NULL,
  sender_jid_row_id INTEGER, key_id TEXT NOT NULL, timestamp INTEGER, message_type INTEGER,
  origin INTEGER, text_data TEXT, payment_transaction_id TEXT, lookup_tables INTEGER);
CREATE TABLE props (_id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT UNIQUE, value TEXT);
"""


def whatsapp_store(root: Path) -> Path:
    """``WhatsApp/Databases/msgstore.db`` + ``WhatsApp/Media/...`` (Android layout)."""
    wa = root / "WhatsApp"
    (wa / "Databases").mkdir(parents=True)
    images = wa / "Media" / "WhatsApp Images"
    voice = wa / "Media" / "WhatsApp Voice Notes" / "202401"
    docs = wa / "Media" / "WhatsApp Documents"
    for d in (images, voice, docs):
        d.mkdir(parents=True)
    (images / "IMG-20240101-WA0001.jpg").write_bytes(jpeg(label="whatsapp"))
    (images / HOSTILE_NAME).write_bytes(png())
    (voice / "PTT-20240101-WA0002.opus").write_bytes(wav())
    (docs / "Menu.pdf").write_bytes(b"%PDF-1.4\n% a tiny document\n")
    with closing(sqlite3.connect(wa / "Databases" / "msgstore.db")) as conn:
        conn.executescript(WA_DDL)
        conn.executemany("INSERT INTO jid (_id, user, server, agent, device, type, raw_string) "
                         "VALUES (?, ?, ?, 0, 0, ?, ?)", [
            (1, "15551230001", "s.whatsapp.net", 0, "15551230001@s.whatsapp.net"),
            (2, "15551230002", "s.whatsapp.net", 0, "15551230002@s.whatsapp.net"),
            (3, "120363012345678901", "g.us", 1, "120363012345678901@g.us"),
        ])  # fmt: skip
        conn.executemany("INSERT INTO chat (_id, jid_row_id, hidden, subject, created_timestamp, "
                         "archived, group_type) VALUES (?, ?, 0, ?, ?, 0, ?)", [
            (1, 1, None, BASE_MS - DAY, 0),
            (2, 3, "Climbing 🧗 " + HOSTILE_TEXT, BASE_MS - DAY, 1),
        ])  # fmt: skip
        msgs = []
        for i in range(1, 121):  # chat 1: a long one-to-one chat
            me = i % 3 == 0
            msgs.append(
                (
                    i,
                    1,
                    int(me),
                    f"KEY{i:05d}",
                    None if me else 1,
                    BASE_MS + i * MINUTE,
                    0,
                    f"breakfast plan number {i}" if i % 10 else f"pancakes at {i}",
                )
            )
        msgs += [
            (121, 1, 0, "KEY00121", 1, BASE_MS + 121 * MINUTE, 1, "the view from here"),
            (122, 1, 1, "KEY00122", None, BASE_MS + 122 * MINUTE, 2, None),
            (123, 1, 0, "KEY00123", 1, BASE_MS + 123 * MINUTE, 9, None),
            (124, 1, 1, "KEY00124", None, BASE_MS + 124 * MINUTE, 0, "yes, see you at pancakes"),
            (125, 2, 0, "KEY00125", 2, BASE_MS + 30 * DAY, 0, HOSTILE_TEXT),
            (126, 2, 0, "KEY00126", 2, BASE_MS + 30 * DAY + MINUTE, 1, None),
            (127, 2, 0, "KEY00127", 2, BASE_MS + 31 * DAY, 7, None),
        ]
        conn.executemany(
            "INSERT INTO message (_id, chat_row_id, from_me, key_id, sender_jid_row_id, status, "
            "timestamp, received_timestamp, message_type, text_data, sort_id) "
            "VALUES (?, ?, ?, ?, ?, 13, ?, ?, ?, ?, ?)",
            [(m[0], m[1], m[2], m[3], m[4], m[5], m[5] + 900, m[6], m[7], m[0]) for m in msgs],
        )
        conn.executemany(
            "INSERT INTO message_media (message_row_id, chat_row_id, file_path, file_size, "
            "mime_type, media_name, media_duration, media_caption, width, height) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
                (121, 1, "Media/WhatsApp Images/IMG-20240101-WA0001.jpg", 9000, "image/jpeg",
                 None, None, "the view from here", 320, 240),
                (122, 1, "Media/WhatsApp Voice Notes/202401/PTT-20240101-WA0002.opus", 48000,
                 "audio/ogg; codecs=opus", None, 3, None, None, None),
                (123, 1, "Media/WhatsApp Documents/Menu.pdf", 30, "application/pdf", "Menu.pdf",
                 None, None, None, None),
                (126, 2, f"Media/WhatsApp Images/{HOSTILE_NAME}", 100, "text/html",
                 HOSTILE_NAME, None, HOSTILE_TEXT, 64, 64),
            ])  # fmt: skip
        conn.execute(
            "INSERT INTO message_quoted (message_row_id, chat_row_id, parent_message_chat_row_id, "
            "from_me, sender_jid_row_id, key_id, timestamp, message_type, text_data) "
            "VALUES (124, 1, 1, 0, 1, 'KEY00010', ?, 0, 'pancakes at 10')",
            (BASE_MS + 10 * MINUTE,),
        )
        conn.execute("UPDATE chat SET last_message_row_id = 124 WHERE _id = 1")
        conn.execute("UPDATE chat SET last_message_row_id = 127 WHERE _id = 2")
        conn.commit()
    return wa


IM_DDL = """
CREATE TABLE handle (ROWID INTEGER PRIMARY KEY AUTOINCREMENT UNIQUE, id TEXT NOT NULL,
  country TEXT, service TEXT NOT NULL, uncanonicalized_id TEXT, person_centric_id TEXT);
CREATE TABLE chat (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL,
  style INTEGER, state INTEGER, account_id TEXT, properties BLOB, chat_identifier TEXT,
  service_name TEXT, room_name TEXT, account_login TEXT, is_archived INTEGER DEFAULT 0,
  last_addressed_handle TEXT, display_name TEXT, group_id TEXT, is_filtered INTEGER DEFAULT 0);
CREATE TABLE message (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL,
  text TEXT, replace INTEGER DEFAULT 0, service_center TEXT, handle_id INTEGER DEFAULT 0,
  subject TEXT, country TEXT, attributedBody BLOB, version INTEGER DEFAULT 0,
  type INTEGER DEFAULT 0, service TEXT, account TEXT, account_guid TEXT, error INTEGER DEFAULT 0,
  date INTEGER, date_read INTEGER, date_delivered INTEGER, is_delivered INTEGER DEFAULT 0,
  is_finished INTEGER DEFAULT 0, is_from_me INTEGER DEFAULT 0, is_read INTEGER DEFAULT 0,
  cache_has_attachments INTEGER DEFAULT 0, item_type INTEGER DEFAULT 0,
  associated_message_guid TEXT, associated_message_type INTEGER DEFAULT 0,
  thread_originator_guid TEXT, thread_originator_part TEXT);
CREATE TABLE chat_message_join (chat_id INTEGER REFERENCES chat (ROWID) ON DELETE CASCADE,
  message_id INTEGER REFERENCES message (ROWID) ON DELETE CASCADE, message_date INTEGER DEFAULT 0,
  PRIMARY KEY (chat_id, message_id));
CREATE INDEX chat_message_join_idx_message_date_id_chat_id
  ON chat_message_join (message_date, message_id, chat_id);
CREATE TABLE chat_handle_join (chat_id INTEGER, handle_id INTEGER, UNIQUE (chat_id, handle_id));
CREATE TABLE attachment (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL,
  created_date INTEGER DEFAULT 0, filename TEXT, uti TEXT, mime_type TEXT,
  transfer_state INTEGER DEFAULT 0, is_outgoing INTEGER DEFAULT 0, transfer_name TEXT,
  total_bytes INTEGER DEFAULT 0);
CREATE TABLE message_attachment_join (message_id INTEGER, attachment_id INTEGER,
  UNIQUE (message_id, attachment_id));
"""
APPLE_EPOCH_MS = 978_307_200_000


def apple_ns(ms: int) -> int:
    return (ms - APPLE_EPOCH_MS) * 1_000_000


def imessage_store(root: Path) -> Path:
    """``Library/Messages/chat.db`` + ``Attachments/`` (text partly only in attributedBody)."""
    messages = root / "Library" / "Messages"
    att = messages / "Attachments" / "3e" / "14" / "A1B2C3D4-0000-4000-8000-000000000001"
    att.mkdir(parents=True)
    (att / "IMG_0042.jpeg").write_bytes(jpeg(label="imessage", hue=90))
    voice = messages / "Attachments" / "7f" / "02" / "A1B2C3D4-0000-4000-8000-000000000002"
    voice.mkdir(parents=True)
    (voice / "Audio Message.caf").write_bytes(wav(seconds=2.5, freq=330))
    with closing(sqlite3.connect(messages / "chat.db")) as conn:
        conn.executescript(IM_DDL)
        conn.executemany("INSERT INTO handle (ROWID, id, service) VALUES (?, ?, 'iMessage')",
                         [(1, "+15557770001"), (2, "robin@example.com")])  # fmt: skip
        conn.executemany(
            "INSERT INTO chat (ROWID, guid, style, chat_identifier, service_name, display_name) "
            "VALUES (?, ?, ?, ?, 'iMessage', ?)",
            [(1, "iMessage;-;+15557770001", 45, "+15557770001", ""),
             (2, "iMessage;+;chat0001", 43, "chat0001", "Book club " + HOSTILE_TEXT)],
        )  # fmt: skip
        rows = []
        for i in range(1, 61):
            me = i % 2 == 0
            text = f"chapter {i} was great" if i != 30 else "see you at the lighthouse"
            legacy = i % 4 != 0  # newer macOS: text NULL, attributedBody only
            rows.append(
                (
                    i,
                    f"G-{i:04d}",
                    None if legacy else text,
                    encode_attributed(text) if legacy else None,
                    0 if me else 1,
                    apple_ns(BASE_MS + i * 5 * MINUTE),
                    int(me),
                    0,
                    0,
                    None,
                    1,
                )
            )
        rows += [
            (61, "G-0061", "\ufffc", None, 1, apple_ns(BASE_MS + 400 * MINUTE), 0, 1, 0, None, 1),
            (
                62,
                "G-0062",
                None,
                encode_attributed("Loved it! 📚"),
                0,
                apple_ns(BASE_MS + 401 * MINUTE),
                1,
                0,
                0,
                "G-0030",
                1,
            ),
            (
                63,
                "G-0063",
                "Loved “see you at the lighthouse”",
                None,
                1,
                apple_ns(BASE_MS + 402 * MINUTE),
                0,
                0,
                2000,
                None,
                1,
            ),  # a tapback: not shown
            (
                64,
                "G-0064",
                None,
                encode_attributed(HOSTILE_TEXT),
                2,
                apple_ns(BASE_MS + 3 * DAY),
                0,
                0,
                0,
                None,
                2,
            ),
            (65, "G-0065", None, None, 2, apple_ns(BASE_MS + 3 * DAY + MINUTE), 0, 1, 0, None, 2),
        ]
        conn.executemany(
            "INSERT INTO message (ROWID, guid, text, attributedBody, handle_id, date, is_from_me, "
            "cache_has_attachments, associated_message_type, thread_originator_guid, service) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'iMessage')",
            [r[:10] for r in rows],
        )
        conn.executemany("INSERT INTO chat_message_join VALUES (?, ?, ?)",
                         [(r[10], r[0], r[5]) for r in rows])  # fmt: skip
        conn.executemany(
            "INSERT INTO attachment (ROWID, guid, filename, mime_type, transfer_name, total_bytes) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(1, "AT-1", "~/Library/Messages/Attachments/3e/14/A1B2C3D4-0000-4000-8000-"
              "000000000001/IMG_0042.jpeg", "image/jpeg", "IMG_0042.jpeg", 9000),
             (2, "AT-2", "~/Library/Messages/Attachments/7f/02/A1B2C3D4-0000-4000-8000-"
              "000000000002/Audio Message.caf", "audio/x-caf", "Audio Message.caf", 40000)],
        )  # fmt: skip
        conn.executemany("INSERT INTO message_attachment_join VALUES (?, ?)", [(61, 1), (65, 2)])
        conn.commit()
    return messages


def telegram_export(root: Path) -> Path:
    """``Telegram Desktop/DataExport_2024-02-01/result.json`` + photos/ + voice_messages/."""
    export = root / "Telegram Desktop" / "DataExport_2024-02-01"
    (export / "photos").mkdir(parents=True)
    (export / "voice_messages").mkdir()
    (export / "photos" / "photo_1@01-01-2024_12-00-00.jpg").write_bytes(jpeg(label="tg", hue=40))
    (export / "voice_messages" / "audio_1@01-01-2024_12-05-00.ogg").write_bytes(wav(seconds=2))
    (export / "video_files").mkdir()
    (export / "video_files" / "clip.webm").write_bytes(webm())
    t0 = BASE_MS // 1000

    def msg(i: int, sender: str, uid: str, text: object, **extra: object) -> dict[str, object]:
        return {"id": i, "type": "message", "date": "2024-01-01T12:00:00",
                "date_unixtime": str(t0 + i * 60), "from": sender, "from_id": uid,
                "text": text, "text_entities": [], **extra}  # fmt: skip

    chat1 = [msg(i, "Kim" if i % 2 else "Me Myself", "user100" if i % 2 else "user42",
                 f"telegram note {i}") for i in range(1, 41)]  # fmt: skip
    chat1 += [
        msg(
            41,
            "Kim",
            "user100",
            ["look at ", {"type": "bold", "text": "this"}],
            photo="photos/photo_1@01-01-2024_12-00-00.jpg",
            width=320,
            height=240,
        ),
        msg(
            42,
            "Kim",
            "user100",
            "",
            file="voice_messages/audio_1@01-01-2024_12-05-00.ogg",
            media_type="voice_message",
            mime_type="audio/ogg",
            duration_seconds=2,
        ),
        msg(43, "Me Myself", "user42", "nice one", reply_to_message_id=41),
        msg(  # a video, between 43 and 44 in time (ids need not follow the dates)
            45,
            "Kim",
            "user100",
            "the ride",
            date_unixtime=str(t0 + 43 * 60 + 30),
            file="video_files/clip.webm",
            media_type="video_file",
            mime_type="video/webm",
            duration_seconds=2,
        ),
        msg(
            44,
            "Kim",
            "user100",
            "",
            file="(File not included. Change data exporting settings to download.)",
            media_type="video_file",
            mime_type="video/mp4",
        ),
    ]
    chat2 = [
        {
            "id": 1,
            "type": "service",
            "date": "2024-01-05T09:00:00",
            "date_unixtime": str(t0 + 4 * 86400),
            "actor": "Kim",
            "actor_id": "user100",
            "action": "create_group",
            "title": "Trip",
            "text": "",
        },
        msg(2, "Kim", "user100", HOSTILE_TEXT, date_unixtime=str(t0 + 4 * 86400 + 60)),
    ]
    doc = {
        "about": "Here is the data you requested.",
        "personal_information": {"user_id": 42, "first_name": "Me", "last_name": "Myself"},
        "chats": {"about": "This page lists all chats from this export.", "list": [
            {"name": "Kim", "type": "personal_chat", "id": 100, "messages": chat1},
            {"name": "Trip " + HOSTILE_TEXT, "type": "private_group", "id": 555,
             "messages": chat2},
        ]},
    }  # fmt: skip
    (export / "result.json").write_text(json.dumps(doc, ensure_ascii=False, indent=1))
    return export


def generic_db(root: Path) -> Path:
    """An app we do not know: a few tables, a WITHOUT ROWID table, a view, a BLOB."""
    folder = root / "other-app"
    folder.mkdir()
    with closing(sqlite3.connect(folder / "notes.sqlite")) as conn:
        conn.executescript(
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT, body TEXT, thumb BLOB);"
            "CREATE TABLE tags (note_id INTEGER, tag TEXT, PRIMARY KEY (note_id, tag))"
            " WITHOUT ROWID;"
            "CREATE VIEW recent AS SELECT id, title FROM notes ORDER BY id DESC LIMIT 5;"
        )
        conn.executemany("INSERT INTO notes VALUES (?, ?, ?, ?)",
                         [(i, f"note {i}", HOSTILE_TEXT if i == 3 else f"body of note {i}",
                           bytes(range(i % 40))) for i in range(1, 251)])  # fmt: skip
        conn.executemany("INSERT INTO tags VALUES (?, ?)", [(i, "misc") for i in range(1, 31)])
        conn.commit()
    return folder
