"""Page models shared by the server and the export: a thread page, a search page, what's new.

Rules: pure functions over an adapter (no HTTP, no files): the server and the exporter render
the same values through the same templates with different :class:`~coffer.browse.urls.Urls`.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from coffer.browse.adapters.base import FIRST, ChatAdapter
from coffer.browse.errors import BadRequest, NotFound
from coffer.browse.model import Chat, Cursor, Message
from coffer.browse.search import NotReady, SearchIndex, highlight, terms

PAGE = 50
CONTEXT_BEFORE = 10


@dataclass
class ThreadPage:
    chat: Chat
    messages: list[Message]
    older: Cursor | None  # link to the page before, if there is one
    newer: Cursor | None
    anchor: int | None = None
    note: str = ""


def _page(
    chat: Chat, messages: list[Message], more_before: bool, more_after: bool,
    anchor: int | None = None,
) -> ThreadPage:  # fmt: skip
    older = messages[0].cursor if messages and more_before else None
    newer = messages[-1].cursor if messages and more_after else None
    return ThreadPage(chat, messages, older, newer, anchor)


def thread_page(
    adapter: ChatAdapter, chat_id: int, *, before: Cursor | None = None,
    after: Cursor | None = None, at: int | None = None, date: str | None = None,
    limit: int = PAGE,
) -> ThreadPage:  # fmt: skip
    """The page the URL asks for: newest, before/after a cursor, around a message, at a date."""
    chat = adapter.chat(chat_id)
    if chat is None:
        raise NotFound(f"no chat {chat_id} in this database")
    if at is not None:
        found = [m for m in adapter.by_ids([at]) if m.chat_id == chat_id]
        if not found:
            raise NotFound(f"no message {at} in this chat")
        start = Cursor(found[0].cursor.time, found[0].cursor.id - 1)
        older = adapter.messages(chat_id, before=found[0].cursor, limit=CONTEXT_BEFORE + 1)
        newer = adapter.messages(chat_id, after=start, limit=limit - CONTEXT_BEFORE + 1)
        more_before, more_after = len(older) > CONTEXT_BEFORE, len(newer) > limit - CONTEXT_BEFORE
        shown = older[-CONTEXT_BEFORE:] + newer[: limit - CONTEXT_BEFORE]
        return _page(chat, shown, more_before, more_after, at)
    note = ""
    if date:
        after = adapter.cursor_at(parse_date(date))
        note = f"from {date}"
    if after is not None:
        got = adapter.messages(chat_id, after=after, limit=limit + 1)
        if got or not date:
            more_before = bool(got and adapter.messages(chat_id, before=got[0].cursor, limit=1))
            page = _page(chat, got[:limit], more_before, len(got) > limit)
            page.note = note
            return page
        note = f"no messages on or after {date}: the newest are shown"
    got = adapter.messages(chat_id, before=before, limit=limit + 1)
    page = _page(chat, got[-limit:], len(got) > limit, before is not None)
    page.note = note
    return page


def parse_date(text: str) -> int:
    try:
        day = datetime.date.fromisoformat(text.strip()[:10])
    except ValueError:
        raise BadRequest(f"not a date (YYYY-MM-DD): {text[:20]!r}") from None
    start = datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.UTC)
    return int(start.timestamp() * 1000)


@dataclass
class Hit:
    message: Message
    chat: Chat | None
    segments: list[tuple[str, bool]]


@dataclass
class SearchPage:
    query: str
    hits: list[Hit] = field(default_factory=list)
    total: int = 0
    page: int = 1
    pages: int = 0
    indexing: int | None = None  # messages indexed so far while the index is being built
    error: str = ""


def search_page(adapter: ChatAdapter, index: SearchIndex, query: str, page: int,
                per_page: int = PAGE) -> SearchPage:  # fmt: skip
    words = terms(query)
    result = SearchPage(query, page=page)
    if not words:
        return result
    try:
        ids, total = index.search(words, per_page, (page - 1) * per_page)
    except NotReady as exc:
        result.indexing = exc.done
        return result
    except RuntimeError as exc:
        result.error = str(exc)
        return result
    chats = {c.id: c for c in adapter.chats()}
    found = {m.id: m for m in adapter.by_ids(ids)}
    for mid in ids:
        if mid in found:
            m = found[mid]
            result.hits.append(Hit(m, chats.get(m.chat_id), highlight(m.text, words)))
    result.total = total
    result.pages = (total + per_page - 1) // per_page
    return result


@dataclass
class NewInChat:
    chat: Chat
    messages: int
    media: int
    since: Cursor | None  # None: the chat is new in this snapshot
    more: bool


def whats_new(current: ChatAdapter, previous: ChatAdapter, cap: int = 1000) -> list[NewInChat]:
    """Per chat, the messages (and media) after the previous snapshot's last message.

    Chat histories grow at the end, so "new" is "later than the newest message the previous
    snapshot had in that chat"; a chat the previous snapshot lacked is new as a whole.
    """
    before = {c.id: c for c in previous.chats()}
    out = []
    for chat in current.chats():
        old = before.get(chat.id)
        since = old.last if old is not None else None
        if old is not None and since is not None and chat.last is not None and chat.last <= since:
            continue
        got = current.messages(chat.id, after=since or Cursor(FIRST, FIRST), limit=cap + 1)
        media = sum(len(m.media) for m in got[:cap])
        out.append(NewInChat(chat, min(len(got), cap), media, since, len(got) > cap))
    return out
