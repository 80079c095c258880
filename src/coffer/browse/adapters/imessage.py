"""macOS Messages, ``~/Library/Messages/chat.db``.

Schema, as documented by imessage-exporter and forensic write-ups: ``message`` (``ROWID``,
``guid``, ``text`` — NULL on recent macOS, the text then lives in ``attributedBody``, see
:mod:`.typedstream` —, ``handle_id`` → ``handle.id`` (phone or e-mail), ``is_from_me``,
``date`` in nanoseconds since 2001-01-01 UTC (seconds before macOS 10.13),
``thread_originator_guid`` for inline replies, ``associated_message_type`` ≠ 0 for tapbacks),
``chat`` (``display_name``, ``chat_identifier``, ``style`` 43 = group), ``chat_message_join``
(``chat_id``, ``message_id``, ``message_date``), ``attachment`` (``filename`` such as
``~/Library/Messages/Attachments/…``, ``mime_type``, ``transfer_name``, ``total_bytes``) and
``message_attachment_join``. Tapbacks (reactions) are left out of threads.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from coffer.browse.adapters.base import SqlChatAdapter, placeholders
from coffer.browse.adapters.typedstream import attributed_text
from coffer.browse.db import Probe, Row
from coffer.browse.model import Chat, Cursor, MediaRef, Message, Quote

APPLE_EPOCH_MS = 978_307_200_000
NS_THRESHOLD = 10**14  # dates above this are nanoseconds (macOS 10.13+), below: seconds
GROUP_STYLE = 43


def apple_to_ms(value: int) -> int:
    if abs(value) >= NS_THRESHOLD:
        return APPLE_EPOCH_MS + value // 1_000_000
    return APPLE_EPOCH_MS + value * 1000


def _kind(mime: object) -> str:
    major = str(mime or "").split("/", 1)[0]
    return major if major in ("image", "audio", "video") else "file"


class IMessageAdapter(SqlChatAdapter):
    name: ClassVar[str] = "imessage"
    label: ClassVar[str] = "macOS Messages (chat.db)"
    columns: ClassVar[str] = (
        "m.ROWID, cmj.chat_id, cmj.message_date, m.is_from_me, h.id, m.text, m.attributedBody, "
        "m.cache_has_attachments, m.thread_originator_guid, m.item_type"
    )
    source: ClassVar[str] = (
        "chat_message_join cmj JOIN message m ON m.ROWID = cmj.message_id "
        "LEFT JOIN handle h ON h.ROWID = m.handle_id"
    )
    chat_col: ClassVar[str] = "cmj.chat_id"
    time_col: ClassVar[str] = "cmj.message_date"
    id_col: ClassVar[str] = "cmj.message_id"
    extra_where: ClassVar[str] = " AND m.associated_message_type = 0"
    indexes: ClassVar[tuple[str, ...]] = (
        "CREATE INDEX IF NOT EXISTS coffer_browse_chat_time "
        "ON chat_message_join (chat_id, message_date, message_id)",
    )
    _ns: bool | None = None

    @classmethod
    def recognise(cls, probe: Probe) -> bool:
        return (
            probe.has("message", "ROWID", "guid", "text", "attributedBody", "date", "is_from_me")
            and probe.has("chat", "chat_identifier", "display_name")
            and probe.has("chat_message_join", "chat_id", "message_id", "message_date")
            and probe.has("handle", "id")
            and probe.has("attachment", "filename", "transfer_name")
            and probe.has("message_attachment_join", "message_id", "attachment_id")
        )

    def to_ms(self, native: int) -> int:
        return apple_to_ms(int(native))

    def from_ms(self, ms: int) -> int:
        if self._ns is None:
            row = self.db.one("SELECT max(abs(message_date)) FROM chat_message_join")
            self._ns = bool(row and row[0] and row[0] >= NS_THRESHOLD)
        offset = ms - APPLE_EPOCH_MS
        return offset * 1_000_000 if self._ns else offset // 1000

    def list_chats(self) -> list[Chat]:
        rows = self.db.rows(
            "SELECT c.ROWID, c.display_name, c.chat_identifier, c.style, s.n, s.t, s.i "
            "FROM chat c JOIN (SELECT cmj.chat_id, count(*) AS n, max(cmj.message_date) AS t, "
            "  max(cmj.message_id) AS i FROM chat_message_join cmj "
            "  JOIN message m ON m.ROWID = cmj.message_id "
            "  WHERE m.associated_message_type = 0 GROUP BY cmj.chat_id) s ON s.chat_id = c.ROWID "
            "ORDER BY s.t DESC, c.ROWID"
        )
        lasts = {m.chat_id: m for m in self.by_ids([int(r[6]) for r in rows])}
        out = []
        for cid, display, ident, style, n, t, i in rows:
            last = lasts.get(int(cid))
            text = last.text if last and last.text else ("(attachment)" if last else "")
            out.append(Chat(int(cid), str(display or ident or cid), style == GROUP_STYLE, int(n),
                            apple_to_ms(int(t)), text, Cursor(int(t), int(i))))  # fmt: skip
        return out

    def to_messages(self, rows: list[Row]) -> list[Message]:
        ids = [int(r[0]) for r in rows]
        media = self._attachments([int(r[0]) for r in rows if r[7]])
        quotes = self._replies({str(r[8]) for r in rows if r[8]})
        out = []
        for mid, chat, date, me, handle, text, body, _att, origin, item in rows:
            shown = text if text is not None else attributed_text(body)
            shown = (shown or "").replace("\ufffc", "").strip()
            out.append(Message(
                id=int(mid), chat_id=int(chat), time_ms=apple_to_ms(int(date)), from_me=bool(me),
                sender="You" if me else str(handle or "?"), text=shown,
                cursor=Cursor(int(date), int(mid)), media=tuple(media.get(int(mid), ())),
                quote=quotes.get(str(origin)) if origin else None, service=bool(item),
            ))  # fmt: skip
        del ids
        return out

    def _attachments(self, ids: list[int]) -> dict[int, list[MediaRef]]:
        out: dict[int, list[MediaRef]] = {}
        if not ids:
            return out
        for mid, path, mime, name, size in self.db.rows(
            "SELECT maj.message_id, a.filename, a.mime_type, a.transfer_name, a.total_bytes "
            "FROM message_attachment_join maj JOIN attachment a ON a.ROWID = maj.attachment_id "
            f"WHERE maj.message_id IN ({placeholders(ids)}) ORDER BY a.ROWID",
            ids,
        ):
            if not path:
                continue
            shown = str(name or str(path).rsplit("/", 1)[-1])
            out.setdefault(int(mid), []).append(MediaRef(str(path), shown, _kind(mime), size))
        return out

    def _replies(self, guids: set[str]) -> dict[str, Quote]:
        if not guids:
            return {}
        values = sorted(guids)
        rows = self.db.rows(
            "SELECT m.guid, m.ROWID, m.is_from_me, h.id, m.text, m.attributedBody FROM message m "
            f"LEFT JOIN handle h ON h.ROWID = m.handle_id WHERE m.guid IN ({placeholders(values)})",
            values,
        )
        return {
            str(g): Quote("You" if me else str(h or "?"),
                          (t if t is not None else attributed_text(b) or "").replace("\ufffc", ""),
                          int(rid))
            for g, rid, me, h, t, b in rows
        }  # fmt: skip

    def corpus(self) -> Iterator[tuple[int, str]]:
        cur = self.db.connection().execute(
            "SELECT ROWID, text, attributedBody FROM message WHERE associated_message_type = 0"
        )
        for mid, text, body in cur:
            shown = text if text is not None else attributed_text(body)
            if shown and shown.strip("\ufffc "):
                yield int(mid), str(shown)
