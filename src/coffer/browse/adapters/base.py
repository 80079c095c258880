"""The adapter contract: recognise a schema, then answer the views' questions about it.

Rules:
- ``recognise(probe)`` looks at table and column names only (never at content), and is cheap.
- A :class:`ChatAdapter` pages with keyset cursors in the app's native time unit
  (:class:`~coffer.browse.model.Cursor`): ``messages(chat, before=…)`` / ``after=…`` return at
  most ``limit`` messages in chronological order; the queries compare ``(time, id)`` pairs so
  that the app's own (chat, time) index serves a 500,000-message chat as fast as a small one.
- ``corpus()`` yields ``(message id, text)`` for the search index; ``by_ids`` fetches messages
  found by a search.
- :class:`SqlChatAdapter` implements paging once for apps whose messages are one SQL query:
  subclasses give the query's pieces and a row → :class:`Message` mapping.
"""

from __future__ import annotations

import abc
import datetime
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from coffer.browse.db import Database, Probe, Row
from coffer.browse.model import Chat, Cursor, Message, Month

FIRST = -(1 << 62)


class NotMine(Exception):
    """``convert`` found a file that is not this adapter's export (the file is skipped)."""


class Adapter(abc.ABC):
    """Anything the browser can show for one database."""

    name: ClassVar[str]
    label: ClassVar[str]
    kind: ClassVar[str] = "chats"  # or "tables" (the generic browser)

    def __init__(self, db: Database) -> None:
        self.db = db

    @classmethod
    @abc.abstractmethod
    def recognise(cls, probe: Probe) -> bool:
        """True if this adapter understands the schema."""

    @classmethod
    def prepare(cls, conn: sqlite3.Connection) -> None:
        """Work on the private copy (writable, before it is opened read-only); none by default."""
        return None

    @classmethod
    def converts(cls, name: str) -> bool:
        """True if files of this name may be an export this adapter turns into SQLite."""
        return False

    @classmethod
    def convert(cls, src: Path, dst: Path) -> None:
        """Turn the export at ``src`` into a SQLite file at ``dst`` (NotMine if it is not one)."""
        raise NotMine(src.name)


class ChatAdapter(Adapter):
    """An app with chats and messages.

    The database never changes once rebuilt, so the chat list is computed once
    (:meth:`list_chats`) and kept: every later page finds its chat by a dictionary lookup.
    """

    _chats: list[Chat] | None = None
    _by_id: dict[int, Chat] | None = None

    @abc.abstractmethod
    def list_chats(self) -> list[Chat]:
        """Every chat, most recently active first (a query; see :meth:`chats`)."""

    def chats(self) -> list[Chat]:
        if self._chats is None:
            chats = self.list_chats()
            self._by_id = {c.id: c for c in chats}
            self._chats = chats
        return self._chats

    def chat(self, chat_id: int) -> Chat | None:
        self.chats()
        assert self._by_id is not None
        return self._by_id.get(chat_id)

    @abc.abstractmethod
    def messages(
        self,
        chat_id: int,
        *,
        before: Cursor | None = None,
        after: Cursor | None = None,
        limit: int = 50,
    ) -> list[Message]:
        """Up to ``limit`` messages just before ``before`` or just after ``after`` (else the
        newest), in chronological order."""  # fmt: skip

    @abc.abstractmethod
    def months(self, chat_id: int) -> list[Month]:
        """Message counts per calendar month (UTC), oldest first, with each month's first cursor."""

    @abc.abstractmethod
    def by_ids(self, ids: Sequence[int]) -> list[Message]:
        """The messages with these IDs (any order)."""

    @abc.abstractmethod
    def corpus(self) -> Iterator[tuple[int, str]]:
        """``(message id, searchable text)`` for every message that has text."""

    @abc.abstractmethod
    def cursor_at(self, time_ms: int) -> Cursor:
        """The position just before the first message at or after ``time_ms``."""


class SqlChatAdapter(ChatAdapter):
    """Paging, months and lookups for apps whose messages come from one SELECT.

    Subclasses set ``columns`` and ``source`` (the FROM … JOIN … part, no WHERE), the expressions
    ``chat_col``, ``time_col`` and ``id_col`` (raw columns, so indexes apply), and implement
    :meth:`to_messages` and :meth:`to_ms` / :meth:`from_ms` for the native time unit.
    """

    columns: ClassVar[str]
    source: ClassVar[str]
    chat_col: ClassVar[str]
    time_col: ClassVar[str]
    id_col: ClassVar[str]
    extra_where: ClassVar[str] = ""  # e.g. leave out reactions stored as messages
    indexes: ClassVar[tuple[str, ...]] = ()  # created in the private copy, see prepare()

    @classmethod
    def prepare(cls, conn: sqlite3.Connection) -> None:
        """Add the (chat, time) index paging needs to the private rebuilt copy, if it lacks one.

        The copy is Coffer's own temporary file, so an index here changes nothing of the user's;
        it is what makes a deep page of a long chat as fast as the first.
        """
        for ddl in cls.indexes:
            conn.execute(ddl)

    @property
    def select(self) -> str:
        return f"SELECT {self.columns} FROM {self.source}"

    @abc.abstractmethod
    def to_messages(self, rows: list[Row]) -> list[Message]:
        """Map rows of ``select`` to messages (fetching media and quotes in bulk)."""

    def to_ms(self, native: int) -> int:
        return int(native)

    def from_ms(self, ms: int) -> int:
        return ms

    def messages(
        self, chat_id: int, *, before: Cursor | None = None, after: Cursor | None = None,
        limit: int = 50,
    ) -> list[Message]:  # fmt: skip
        pair = f"({self.time_col}, {self.id_col})"
        where, params = f"{self.chat_col} = ?{self.extra_where}", [chat_id]
        if after is not None:
            where += f" AND {pair} > (?, ?)"
            params += [after.time, after.id]
            order = "ASC"
        else:
            order = "DESC"
            if before is not None:
                where += f" AND {pair} < (?, ?)"
                params += [before.time, before.id]
        sql = (
            f"{self.select} WHERE {where} "
            f"ORDER BY {self.time_col} {order}, {self.id_col} {order} LIMIT ?"
        )
        rows = self.db.rows(sql, [*params, limit])
        if order == "DESC":
            rows.reverse()
        return self.to_messages(rows)

    def months(self, chat_id: int) -> list[Month]:
        sql = (
            f"SELECT {self.time_col}, {self.id_col} FROM {self.source} "
            f"WHERE {self.chat_col} = ?{self.extra_where} ORDER BY {self.time_col}, {self.id_col}"
        )
        out: list[Month] = []
        key: tuple[int, int] | None = None
        count = 0
        first = Cursor(FIRST, FIRST)
        prev = Cursor(FIRST, FIRST)
        for t, i in self.db.connection().execute(sql, [chat_id]):
            when = datetime.datetime.fromtimestamp(self.to_ms(t) / 1000, tz=datetime.UTC)
            k = (when.year, when.month)
            if k != key:
                if key is not None:
                    out.append(Month(key[0], key[1], count, first))
                key, count, first = k, 0, prev
            count += 1
            prev = Cursor(int(t), int(i))
        if key is not None:
            out.append(Month(key[0], key[1], count, first))
        return out

    def by_ids(self, ids: Sequence[int]) -> list[Message]:
        if not ids:
            return []
        marks = ", ".join("?" * len(ids))
        return self.to_messages(
            self.db.rows(f"{self.select} WHERE {self.id_col} IN ({marks})", ids)
        )

    def cursor_at(self, time_ms: int) -> Cursor:
        return Cursor(self.from_ms(time_ms), FIRST)


def placeholders(values: Sequence[Any]) -> str:
    return ", ".join("?" * len(values))
