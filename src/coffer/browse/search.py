"""Full-text search over one source: an FTS5 index built in the workspace, in the background.

Rules: the index is its own SQLite file in the private workspace (the rebuilt database stays
read-only), written by a child process; it is contentless (``content=''``), holding only the
words, keyed by the adapter's message id. Until it is complete, :meth:`SearchIndex.search`
answers :class:`NotReady` with the progress so far (the page says so and refreshes). A query is
the user's words, each quoted as an FTS5 string (no operators, so no query syntax errors), the
last one as a prefix; results come newest first (by message id). :func:`highlight` splits a
text into (segment, is_match) pairs for the template, which escapes each.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import TextIO

from coffer.browse.adapters.base import ChatAdapter
from coffer.browse.db import Database, uri_for

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
    """The FTS5 index of one source, built once by a child process (:func:`main`).

    A child, not a thread: building the index is a Python loop over every message, and in the
    server's process it would hold the GIL against the requests being served.
    """

    def __init__(self, path: Path, adapter: ChatAdapter) -> None:
        self.path = path
        self.adapter = adapter
        self.done = 0
        self.ready = threading.Event()
        self.error: str | None = None
        self._thread: threading.Thread | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._build, name="coffer-fts", daemon=True)
                self._thread.start()

    def _build(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        command = [sys.executable, "-m", "coffer.browse.search", str(self.adapter.db.path),
                   type(self.adapter).name, str(tmp)]  # fmt: skip
        try:
            with self._lock:
                self._proc = subprocess.Popen(command, stdin=subprocess.DEVNULL,
                                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                              text=True)  # fmt: skip
            assert self._proc.stdout is not None and self._proc.stderr is not None
            for line in self._proc.stdout:
                self.done = int(line)
            err = self._proc.stderr.read().strip()
            if self._proc.wait() != 0:
                self.error = err.splitlines()[-1] if err else f"exit {self._proc.returncode}"
            else:
                tmp.rename(self.path)
        except (OSError, ValueError) as exc:
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.ready.set()

    def close(self) -> None:
        """Stop a build still running (the workspace is about to go)."""
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                self._proc.kill()
                self._proc.wait()

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


def build(adapter: ChatAdapter, target: Path, progress: TextIO | None = None) -> None:
    """Write the FTS5 index of ``adapter``'s messages into the new file ``target``."""
    with closing(sqlite3.connect(target, isolation_level=None)) as conn:
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute(
            "CREATE VIRTUAL TABLE fts USING fts5(body, content='', "
            "tokenize='unicode61 remove_diacritics 2')"
        )
        conn.execute("BEGIN")
        done = 0
        for batch in _batches(adapter.corpus()):
            conn.executemany("INSERT INTO fts (rowid, body) VALUES (?, ?)", batch)
            done += len(batch)
            if progress is not None:
                print(done, file=progress, flush=True)
        conn.execute("COMMIT")
        conn.execute("INSERT INTO fts (fts) VALUES ('optimize')")


def _batches(rows: Iterator[tuple[int, str]]) -> Iterator[list[tuple[int, str]]]:
    batch: list[tuple[int, str]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def main(argv: list[str]) -> int:
    """``python -m coffer.browse.search DB ADAPTER TARGET``: build an index, print progress."""
    from coffer.browse.adapters import REGISTRY

    if len(argv) != 3:
        print("usage: python -m coffer.browse.search DB ADAPTER TARGET", file=sys.stderr)
        return 2
    cls = next((a for a in REGISTRY if a.name == argv[1]), None)
    if cls is None or not issubclass(cls, ChatAdapter):
        print(f"no chat adapter {argv[1]!r}", file=sys.stderr)
        return 2
    db = Database(Path(argv[0]))
    try:
        build(cls(db), Path(argv[2]), sys.stdout)
    except sqlite3.Error as exc:
        print(f"search index: {exc}", file=sys.stderr)
        return 1
    finally:
        db.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
