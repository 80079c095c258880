"""Telegram Desktop's JSON export (``result.json`` beside its media folders).

Format, as documented by Telegram Desktop and export parsers: either a full export
(``{"personal_information": {"user_id": …}, "chats": {"list": [chat, …]}}``) or one chat
(``{"name", "type", "id", "messages": […]}``). A message has ``id`` (per chat), ``type``
(``message`` | ``service``), ``date_unixtime`` (seconds, a string) or ``date`` (local ISO time),
``from`` / ``from_id`` (or ``actor`` / ``action`` for service messages), ``text`` — a string, or
a list of strings and ``{"type", "text"}`` entities —, ``reply_to_message_id``, and media as
``photo`` or ``file`` paths relative to ``result.json`` with ``media_type`` (``voice_message``,
``video_file``, ``sticker``, …), ``mime_type``, ``duration_seconds``, ``file_name``. A path of
``"(File not included…)"`` means the export left the file out.

Rules: the JSON is converted once into SQLite in the private workspace (:meth:`convert`), so
paging, months and search work as for the SQLite apps; the converted file carries a ``tg_meta``
marker that :meth:`recognise` looks for.
"""

from __future__ import annotations

import datetime
import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any, ClassVar

from coffer.browse.adapters.base import NotMine, SqlChatAdapter, placeholders
from coffer.browse.db import Probe, Row
from coffer.browse.model import Chat, Cursor, MediaRef, Message, Quote

MARKER = "coffer-telegram-json/1"
MAX_JSON = 4 << 30
_DDL = (
    "CREATE TABLE tg_meta (key TEXT PRIMARY KEY, value TEXT)",
    "CREATE TABLE tg_chat (id INTEGER PRIMARY KEY, tg_id INTEGER, name TEXT, type TEXT)",
    "CREATE TABLE tg_message (id INTEGER PRIMARY KEY, chat_id INTEGER, tg_id INTEGER, "
    "date_ms INTEGER, sender TEXT, from_me INTEGER, text TEXT, reply_to INTEGER, service INTEGER)",
    "CREATE TABLE tg_media (message_id INTEGER, path TEXT, kind TEXT, name TEXT, "
    "duration_ms INTEGER)",
)
_INDEXES = (
    "CREATE INDEX tg_message_chat_time ON tg_message (chat_id, date_ms, id)",
    "CREATE INDEX tg_message_chat_tg ON tg_message (chat_id, tg_id)",
    "CREATE INDEX tg_media_message ON tg_media (message_id)",
)
_KINDS = {
    "voice_message": "audio", "audio_file": "audio", "video_file": "video",
    "video_message": "video", "animation": "video", "sticker": "image",
}  # fmt: skip


def plain_text(text: Any) -> str:
    """A message's ``text`` field (string or list of entities) as plain text."""
    if isinstance(text, str):
        return text
    if isinstance(text, list):
        return "".join(t if isinstance(t, str) else str(t.get("text", "")) for t in text
                       if isinstance(t, str | dict))  # fmt: skip
    return ""


def _date_ms(msg: dict[str, Any]) -> int:
    if "date_unixtime" in msg:
        return int(msg["date_unixtime"]) * 1000
    when = datetime.datetime.fromisoformat(str(msg["date"]))
    return int(when.replace(tzinfo=when.tzinfo or datetime.UTC).timestamp() * 1000)


def _media(msg: dict[str, Any]) -> tuple[str, str, str, int | None] | None:
    path = msg.get("photo") or msg.get("file")
    if not isinstance(path, str) or not path or path.startswith("("):
        return None
    kind = "image" if "photo" in msg else _KINDS.get(str(msg.get("media_type", "")), "file")
    if kind == "file" and str(msg.get("mime_type", "")).startswith(("image/", "audio/", "video/")):
        kind = str(msg["mime_type"]).split("/", 1)[0]
    name = str(msg.get("file_name") or path.rsplit("/", 1)[-1])
    secs = msg.get("duration_seconds")
    return path, kind, name, int(secs) * 1000 if isinstance(secs, int) else None


def _left_out(msg: dict[str, Any]) -> bool:
    """The export's ``"(File not included…)"`` in place of a photo's or file's path."""
    path = msg.get("photo") or msg.get("file")
    return isinstance(path, str) and path.startswith("(")


def _chats(doc: Any) -> tuple[list[dict[str, Any]], str | None]:
    if not isinstance(doc, dict):
        raise NotMine("not a JSON object")
    me = doc.get("personal_information", {}).get("user_id")
    me_id = f"user{me}" if me is not None else None
    if isinstance(doc.get("chats"), dict) and isinstance(doc["chats"].get("list"), list):
        return [c for c in doc["chats"]["list"] if isinstance(c, dict)], me_id
    if isinstance(doc.get("messages"), list) and "name" in doc:
        return [doc], me_id
    raise NotMine("no chats in this JSON")


class TelegramAdapter(SqlChatAdapter):
    name: ClassVar[str] = "telegram"
    label: ClassVar[str] = "Telegram Desktop export (result.json)"
    columns: ClassVar[str] = (
        "m.id, m.chat_id, m.date_ms, m.from_me, m.sender, m.text, m.reply_to, m.service"
    )
    source: ClassVar[str] = "tg_message m"
    chat_col: ClassVar[str] = "m.chat_id"
    time_col: ClassVar[str] = "m.date_ms"
    id_col: ClassVar[str] = "m.id"

    @classmethod
    def recognise(cls, probe: Probe) -> bool:
        return probe.has("tg_meta", "key", "value") and probe.has("tg_message", "date_ms")

    @classmethod
    def converts(cls, name: str) -> bool:
        return name == "result.json"

    @classmethod
    def convert(cls, src: Path, dst: Path) -> None:
        if src.stat().st_size > MAX_JSON:
            raise NotMine("too large")
        try:
            with src.open("rb") as fh:
                doc = json.load(fh)
        except (ValueError, UnicodeDecodeError) as exc:
            raise NotMine(f"not JSON ({exc})") from None
        chats, me = _chats(doc)
        with closing(sqlite3.connect(dst, isolation_level=None)) as conn:
            conn.execute("PRAGMA journal_mode = OFF")
            conn.execute("BEGIN")
            for ddl in _DDL:
                conn.execute(ddl)
            conn.execute("INSERT INTO tg_meta VALUES ('format', ?)", [MARKER])
            for number, chat in enumerate(chats, start=1):
                _insert_chat(conn, number, chat, me)
            for ddl in _INDEXES:
                conn.execute(ddl)
            conn.execute("COMMIT")

    def list_chats(self) -> list[Chat]:
        rows = self.db.rows(
            "SELECT c.id, c.name, c.type, s.n, s.t, s.i, coalesce(nullif(lm.text, ''), "
            "  '(' || (SELECT kind FROM tg_media WHERE message_id = lm.id LIMIT 1) || ')') "
            "FROM tg_chat c "
            "JOIN (SELECT chat_id, count(*) AS n, max(date_ms) AS t, max(id) AS i FROM tg_message "
            "      GROUP BY chat_id) s ON s.chat_id = c.id "
            "LEFT JOIN tg_message lm ON lm.id = s.i ORDER BY s.t DESC, c.id"
        )
        return [
            Chat(int(cid), str(name or cid), "group" in str(kind) or "channel" in str(kind),
                 int(n), int(t), str(last or ""), Cursor(int(t), int(i)))
            for cid, name, kind, n, t, i, last in rows
        ]  # fmt: skip

    def to_messages(self, rows: list[Row]) -> list[Message]:
        ids = [int(r[0]) for r in rows]
        media: dict[int, list[MediaRef]] = {}
        if ids:
            for mid, path, kind, name, dur in self.db.rows(
                "SELECT message_id, path, kind, name, duration_ms FROM tg_media "
                f"WHERE message_id IN ({placeholders(ids)})",
                ids,
            ):
                media.setdefault(int(mid), []).append(
                    MediaRef(str(path), str(name), str(kind), None, dur)
                )
        quotes = self._quotes([(int(r[1]), int(r[6])) for r in rows if r[6] is not None])
        return [
            Message(
                id=int(mid), chat_id=int(chat), time_ms=int(ts), from_me=bool(me),
                sender="You" if me else str(sender or ""), text=str(text or ""),
                cursor=Cursor(int(ts), int(mid)), media=tuple(media.get(int(mid), ())),
                quote=quotes.get((int(chat), int(reply))) if reply is not None else None,
                service=bool(service),
            )
            for mid, chat, ts, me, sender, text, reply, service in rows
        ]  # fmt: skip

    def _quotes(self, keys: list[tuple[int, int]]) -> dict[tuple[int, int], Quote]:
        out = {}
        for chat, tg_id in set(keys):
            row = self.db.one(
                "SELECT id, from_me, sender, text FROM tg_message WHERE chat_id = ? AND tg_id = ?",
                [chat, tg_id],
            )
            if row is not None:
                sender = "You" if row[1] else str(row[2] or "")
                out[(chat, tg_id)] = Quote(sender, str(row[3] or ""), int(row[0]))
        return out

    def corpus(self) -> Iterator[tuple[int, str]]:
        cur = self.db.connection().execute("SELECT id, text FROM tg_message WHERE text != ''")
        for mid, text in cur:
            yield int(mid), str(text)


def _insert_chat(
    conn: sqlite3.Connection, number: int, chat: dict[str, Any], me: str | None
) -> None:
    conn.execute(
        "INSERT INTO tg_chat VALUES (?, ?, ?, ?)",
        [number, chat.get("id"), str(chat.get("name") or ""), str(chat.get("type") or "")],
    )
    for msg in chat.get("messages", []):
        if not isinstance(msg, dict) or "id" not in msg:
            continue
        service = msg.get("type") == "service"
        sender = msg.get("actor" if service else "from") or ""
        text = plain_text(msg.get("text"))
        if service and not text:
            text = f"{sender} {str(msg.get('action', '')).replace('_', ' ')}".strip()
        media = _media(msg)
        if not text and media is None and _left_out(msg):  # else an empty bubble: say what was
            kind = msg.get("media_type") or ("photo" if "photo" in msg else "file")
            text = f"({str(kind).replace('_', ' ')} not included in the export)"
        from_me = me is not None and msg.get("from_id", msg.get("actor_id")) == me
        reply = msg.get("reply_to_message_id")
        cur = conn.execute(
            "INSERT INTO tg_message (chat_id, tg_id, date_ms, sender, from_me, text, reply_to, "
            "service) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [number, int(msg["id"]), _date_ms(msg), str(sender), int(from_me), text,
             int(reply) if isinstance(reply, int) else None, int(service)],
        )  # fmt: skip
        if media is not None:
            conn.execute("INSERT INTO tg_media VALUES (?, ?, ?, ?, ?)", [cur.lastrowid, *media])
