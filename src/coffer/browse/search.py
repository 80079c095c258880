"""Full-text search over one source: an FTS5 index built in the workspace, in the background.

Rules: the index is its own SQLite file in the private workspace (the rebuilt database stays
read-only); it is contentless (``content=''``), holding only the words, keyed by the adapter's
message id. Until it is complete, :meth:`SearchIndex.search` answers :class:`NotReady` with the
progress so far (the page says so and refreshes). A query is the user's words, each quoted as an
FTS5 string (no operators, so no query syntax errors), the last one as a prefix; results come
newest first (by message id). :func:`highlight` splits a text into (segment, is_match) pairs for
the template, which escapes each.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

from coffer.browse.adapters.base import ChatAdapter
from coffer.browse.db import uri_for

BATCH = 5000
MAX_TERMS = 12
_WORD = re.compile(r"\w+", re.UNICODE)


class NotReady(Exception):
    def __init__(self, done: int) -> None:
        super().__init__(f"search index: {done} messages indexed so far")
        self.done = done


def terms(query: str) -> list[str]:
    return _WORD.findall(query)[:MAX_TERMS]


def match_expression(words: list[str]) -> str:
    quoted = ['"' + w.replace('"', '""') + '"' for w in words]
    quoted[-1] += "*"
    return " ".join(quoted)


def highlight(text: str, words: list[str]) -> list[tuple[str, bool]]:
    """``text`` cut into segments, True where a search word (or a word it prefixes) matches."""
    if not words:
        return [(text, False)]
    pattern = re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)),
                         re.IGNORECASE)  # fmt: skip
    out, pos = [], 0
    for m in pattern.finditer(text):
        if m.start() > pos:
            out.append((text[pos : m.start()], False))
        out.append((m.group(0), True))
        pos = m.end()
    if pos < len(text):
        out.append((text[pos:], False))
    return out


class SearchIndex:
    """The FTS5 index of one source, built once by a background thread."""

    def __init__(self, path: Path, adapter: ChatAdapter) -> None:
        self.path = path
        self.adapter = adapter
        self.done = 0
        self.ready = threading.Event()
        self.error: str | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._build, name="coffer-fts", daemon=True)
                self._thread.start()

    def _build(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        try:
            with closing(sqlite3.connect(tmp, isolation_level=None)) as conn:
                conn.execute("PRAGMA journal_mode = OFF")
                conn.execute("PRAGMA synchronous = OFF")
                conn.execute(
                    "CREATE VIRTUAL TABLE fts USING fts5(body, content='', "
                    "tokenize='unicode61 remove_diacritics 2')"
                )
                conn.execute("BEGIN")
                for batch in _batches(self.adapter.corpus()):
                    conn.executemany("INSERT INTO fts (rowid, body) VALUES (?, ?)", batch)
                    self.done += len(batch)
                conn.execute("COMMIT")
                conn.execute("INSERT INTO fts (fts) VALUES ('optimize')")
            tmp.rename(self.path)
        except Exception as exc:  # reported on the search page, never a crash of the server
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.ready.set()

    def search(self, words: list[str], limit: int, offset: int) -> tuple[list[int], int]:
        """``(message ids newest first, total matches)``."""
        self.start()
        if not self.ready.is_set():
            raise NotReady(self.done)
        if self.error is not None:
            raise RuntimeError(self.error)
        if not words:
            return [], 0
        expr = match_expression(words)
        with closing(sqlite3.connect(uri_for(self.path), uri=True)) as conn:
            ids = [int(r[0]) for r in conn.execute(
                "SELECT rowid FROM fts WHERE fts MATCH ? ORDER BY rowid DESC LIMIT ? OFFSET ?",
                (expr, limit, offset),
            )]  # fmt: skip
            (total,) = conn.execute(
                "SELECT count(*) FROM fts WHERE fts MATCH ?", (expr,)
            ).fetchone()
        return ids, int(total)


def _batches(rows: Iterator[tuple[int, str]]) -> Iterator[list[tuple[int, str]]]:
    batch: list[tuple[int, str]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch
