"""WhatsApp for Android, ``msgstore.db`` (the schema in use since 2022).

Schema, as documented by forensic tools and exporters: ``message`` (``chat_row_id``,
``from_me``, ``key_id``, ``sender_jid_row_id`` → ``jid``, ``timestamp`` in Unix ms,
``message_type``: 0 text, 1 image, 2 audio, 3 video, 9 document, 13 GIF, 20 sticker, 7 system;
``text_data``), ``chat`` (``jid_row_id`` → ``jid``, ``subject`` for groups), ``jid`` (``user``,
``server``, ``raw_string``), ``message_media`` (``message_row_id``, ``file_path`` relative to the
WhatsApp folder, ``mime_type``, ``media_name``, ``media_duration`` in seconds, ``media_caption``)
and ``message_quoted`` (the quoted message's ``key_id``, ``from_me``, sender and ``text_data``).
Contact names live in another database (``wa.db``); chats and senders are shown by number.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from coffer.browse.adapters.base import SqlChatAdapter, placeholders
from coffer.browse.db import Probe, Row
from coffer.browse.model import Chat, Cursor, MediaRef, Message, Quote

_KINDS = {1: "image", 2: "audio", 3: "video", 9: "file", 13: "video", 20: "image"}
_LABELS = {1: "photo", 2: "audio", 3: "video", 9: "document", 13: "GIF", 20: "sticker"}
SYSTEM = 7


def _person(user: object, raw: object) -> str:
    if user:
        return f"+{user}" if str(user).isdigit() else str(user)
    return str(raw or "")


class WhatsAppAdapter(SqlChatAdapter):
    name: ClassVar[str] = "whatsapp"
    label: ClassVar[str] = "WhatsApp (Android msgstore.db)"
    columns: ClassVar[str] = (
        "m._id, m.chat_row_id, m.timestamp, m.from_me, j.user, j.raw_string, m.text_data, "
        "m.message_type, m.key_id"
    )
    source: ClassVar[str] = "message m LEFT JOIN jid j ON j._id = m.sender_jid_row_id"
    chat_col: ClassVar[str] = "m.chat_row_id"
    time_col: ClassVar[str] = "m.timestamp"
    id_col: ClassVar[str] = "m._id"
    indexes: ClassVar[tuple[str, ...]] = (
        "CREATE INDEX IF NOT EXISTS coffer_browse_chat_time ON message (chat_row_id, timestamp)",
    )

    @classmethod
    def recognise(cls, probe: Probe) -> bool:
        return (
            probe.has("message", "chat_row_id", "from_me", "key_id", "timestamp", "text_data")
            and probe.has("chat", "jid_row_id", "subject")
            and probe.has("jid", "user", "server", "raw_string")
            and probe.has("message_media", "message_row_id", "file_path")
            and probe.has("message_quoted", "message_row_id", "key_id", "text_data")
        )

    def list_chats(self) -> list[Chat]:
        rows = self.db.rows(
            "SELECT c._id, c.subject, j.user, j.raw_string, j.server, s.n, s.t, s.i, "
            "lm.text_data, lm.message_type FROM chat c "
            "JOIN (SELECT chat_row_id, count(*) AS n, max(timestamp) AS t, max(_id) AS i "
            "      FROM message WHERE timestamp > 0 GROUP BY chat_row_id) s "
            "  ON s.chat_row_id = c._id "
            "LEFT JOIN jid j ON j._id = c.jid_row_id "
            "LEFT JOIN message lm ON lm._id = s.i "
            "ORDER BY s.t DESC, c._id"
        )
        out = []
        for cid, subject, user, raw, server, n, t, i, last, mtype in rows:
            name = subject or _person(user, raw)
            label = "system message" if mtype == SYSTEM else _LABELS.get(mtype)
            last_text = last or (f"({label})" if label else "")
            out.append(Chat(int(cid), str(name), server == "g.us", int(n), int(t), str(last_text),
                            Cursor(int(t), int(i))))  # fmt: skip
        return out

    def to_messages(self, rows: list[Row]) -> list[Message]:
        ids = [int(r[0]) for r in rows]
        media = self._media([int(r[0]) for r in rows if r[7] in _KINDS])
        quotes = self._quotes(ids)
        out = []
        for mid, chat, ts, from_me, user, raw, text, mtype, _key in rows:
            ref = media.get(int(mid))
            body = str(text or "") or (ref[1] if ref else "")
            out.append(Message(
                id=int(mid), chat_id=int(chat), time_ms=int(ts), from_me=bool(from_me),
                sender="You" if from_me else _person(user, raw), text=body,
                cursor=Cursor(int(ts), int(mid)), media=(ref[0],) if ref else (),
                quote=quotes.get(int(mid)), service=mtype == SYSTEM,
            ))  # fmt: skip
        return out

    def _media(self, ids: list[int]) -> dict[int, tuple[MediaRef, str]]:
        if not ids:
            return {}
        rows = self.db.rows(
            "SELECT mm.message_row_id, m.message_type, mm.file_path, mm.file_size, "
            "mm.media_name, mm.media_duration, mm.media_caption FROM message_media mm "
            f"JOIN message m ON m._id = mm.message_row_id WHERE mm.message_row_id IN "
            f"({placeholders(ids)})",
            ids,
        )
        out = {}
        for mid, mtype, path, size, name, duration, caption in rows:
            if not path:
                continue
            shown = str(name or str(path).replace("\\", "/").rsplit("/", 1)[-1])
            secs = int(duration) * 1000 if duration else None
            ref = MediaRef(str(path), shown, _KINDS.get(int(mtype), "file"), size, secs)
            out[int(mid)] = (ref, str(caption or ""))
        return out

    def _quotes(self, ids: list[int]) -> dict[int, Quote]:
        if not ids:
            return {}
        rows = self.db.rows(
            "SELECT q.message_row_id, q.from_me, j.user, j.raw_string, q.text_data, "
            "(SELECT o._id FROM message o WHERE o.key_id = q.key_id "
            "   AND o.chat_row_id = q.parent_message_chat_row_id LIMIT 1) "
            "FROM message_quoted q LEFT JOIN jid j ON j._id = q.sender_jid_row_id "
            f"WHERE q.message_row_id IN ({placeholders(ids)})",
            ids,
        )
        return {
            int(mid): Quote("You" if me else _person(user, raw), str(text or ""),
                            int(orig) if orig is not None else None)
            for mid, me, user, raw, text, orig in rows
        }  # fmt: skip

    def corpus(self) -> Iterator[tuple[int, str]]:
        cur = self.db.connection().execute(
            "SELECT m._id, coalesce(m.text_data, '') || ' ' || coalesce(mm.media_caption, '') "
            "FROM message m LEFT JOIN message_media mm ON mm.message_row_id = m._id "
            "WHERE m.text_data IS NOT NULL OR mm.media_caption IS NOT NULL"
        )
        for mid, text in cur:
            if text.strip():
                yield int(mid), str(text)
