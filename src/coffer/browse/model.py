"""What every adapter maps an app's schema to: chats, messages, media references, cursors.

Rules: these are plain immutable values; text in them is the app's text, unescaped — escaping
is the templates' job (autoescape), never the adapter's. Times are Unix milliseconds (UTC).
A :class:`Cursor` is a position in a chat in the adapter's *native* time unit, so that paging
queries compare raw column values and use the app's own (chat, time) index.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from coffer.browse.errors import BadRequest


@dataclass(frozen=True)
class MediaRef:
    """A media file a message points at, by the path the app stored."""

    path: str
    name: str
    kind: str = "file"  # image | audio | video | file (the app's claim; the server sniffs)
    size: int | None = None
    duration_ms: int | None = None


@dataclass(frozen=True)
class Quote:
    """The message a reply quotes."""

    sender: str
    text: str
    message_id: int | None = None


@dataclass(frozen=True)
class Message:
    id: int
    chat_id: int
    time_ms: int
    sender: str
    from_me: bool
    text: str
    cursor: Cursor
    media: tuple[MediaRef, ...] = ()
    quote: Quote | None = None
    service: bool = False  # a system line ("Alice created the group"), shown centred

    @property
    def when(self) -> datetime.datetime:
        return utc(self.time_ms)


@dataclass(frozen=True)
class Chat:
    id: int
    name: str
    is_group: bool
    count: int
    last_ms: int | None
    last_text: str
    last: Cursor | None = None


@dataclass(frozen=True, order=True)
class Cursor:
    """A position in a chat: (native time, message id); compared as a pair."""

    time: int
    id: int

    def token(self) -> str:
        return f"{self.time}.{self.id}"

    @classmethod
    def parse(cls, text: str) -> Cursor:
        head, sep, tail = text.partition(".")
        try:
            if not sep:
                raise ValueError
            return cls(int(head), int(tail))
        except ValueError:
            raise BadRequest(f"not a position in a chat: {text[:40]!r}") from None


@dataclass(frozen=True)
class Month:
    year: int
    month: int
    count: int
    first: Cursor

    @property
    def label(self) -> str:
        return datetime.date(self.year, self.month, 1).strftime("%B %Y")


def utc(ms: int) -> datetime.datetime:
    try:
        return datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC)
    except (OverflowError, OSError, ValueError):
        return datetime.datetime.fromtimestamp(0, tz=datetime.UTC)
