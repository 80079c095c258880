"""Coffer's own sample chat store (``coffer demo``, :mod:`coffer.sample`).

Schema (:mod:`coffer.sample.schema`): ``messages`` (``chat_id``, ``sender_id`` → ``contacts``,
``timestamp`` in Unix ms, ``text_data``), ``chats`` (``subject`` for groups; one-to-one chats
are named by the contact whose ``jid`` they share), ``media`` (``message_id``, ``kind``,
``file_path`` relative to the store's folder). Paging uses the index ``(chat_id, timestamp)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from coffer.browse.adapters.base import SqlChatAdapter, placeholders
from coffer.browse.db import Probe, Row
from coffer.browse.model import Chat, Cursor, MediaRef, Message

_KINDS = {"image": "image", "voice": "audio", "video": "video"}


class SampleAdapter(SqlChatAdapter):
    name: ClassVar[str] = "sample"
    label: ClassVar[str] = "Coffer sample chat store"
    columns: ClassVar[str] = (
        "m._id, m.chat_id, m.timestamp, m.from_me, coalesce(ct.display_name, ct.jid, ''), "
        "m.text_data, m.media_type"
    )
    source: ClassVar[str] = "messages m LEFT JOIN contacts ct ON ct._id = m.sender_id"
    chat_col: ClassVar[str] = "m.chat_id"
    time_col: ClassVar[str] = "m.timestamp"
    id_col: ClassVar[str] = "m._id"

    @classmethod
    def recognise(cls, probe: Probe) -> bool:
        return (
            probe.has("messages", "chat_id", "sender_id", "timestamp", "text_data", "key_id")
            and probe.has("chats", "jid", "subject", "is_group", "last_message_id")
            and probe.has("contacts", "jid", "display_name")
            and probe.has("media", "message_id", "kind", "file_path")
        )

    def list_chats(self) -> list[Chat]:
        rows = self.db.rows(
            "SELECT c._id, coalesce(c.subject, ct.display_name, c.jid), c.is_group, s.n, s.t, "
            "s.i, coalesce(lm.text_data, CASE WHEN lm.media_type > 0 THEN '(media)' END, '') "
            "FROM chats c "
            "JOIN (SELECT chat_id, count(*) AS n, max(timestamp) AS t, max(_id) AS i "
            "      FROM messages GROUP BY chat_id) s ON s.chat_id = c._id "
            "LEFT JOIN contacts ct ON ct.jid = c.jid "
            "LEFT JOIN messages lm ON lm._id = c.last_message_id "
            "ORDER BY s.t DESC, c._id"
        )
        return [
            Chat(int(r[0]), str(r[1]), bool(r[2]), int(r[3]), int(r[4]), str(r[6]),
                 Cursor(int(r[4]), int(r[5])))
            for r in rows
        ]  # fmt: skip

    def to_messages(self, rows: list[Row]) -> list[Message]:
        media = self._media([int(r[0]) for r in rows if r[6]])
        return [
            Message(
                id=int(r[0]), chat_id=int(r[1]), time_ms=int(r[2]), from_me=bool(r[3]),
                sender="You" if r[3] else str(r[4]), text=str(r[5] or ""),
                cursor=Cursor(int(r[2]), int(r[0])), media=tuple(media.get(int(r[0]), ())),
            )
            for r in rows
        ]  # fmt: skip

    def _media(self, ids: list[int]) -> dict[int, list[MediaRef]]:
        out: dict[int, list[MediaRef]] = {}
        if not ids:
            return out
        for mid, kind, path, size, duration in self.db.rows(
            "SELECT message_id, kind, file_path, file_size, duration_ms FROM media "
            f"WHERE message_id IN ({placeholders(ids)}) ORDER BY _id",
            ids,
        ):
            name = str(path).rsplit("/", 1)[-1]
            ref = MediaRef(str(path), name, _KINDS.get(str(kind), "file"), size, duration)
            out.setdefault(int(mid), []).append(ref)
        return out

    def corpus(self) -> Iterator[tuple[int, str]]:
        cur = self.db.connection().execute(
            "SELECT _id, text_data FROM messages WHERE text_data IS NOT NULL AND text_data != ''"
        )
        for mid, text in cur:
            yield int(mid), str(text)
