"""``export_html``: a snapshot's chats as a static folder that opens offline in any browser.

Rules:
- Nothing outside ``out`` is written; ``out`` must be new or empty. Every page is rendered by
  the same autoescaping templates as the server, with a CSP ``<meta>`` that allows nothing but
  the export's own files (no script at all, nothing from the network).
- No page is larger than :data:`PAGE_BUDGET` bytes: a chat is cut into pages of at most
  :data:`PER_PAGE` messages, and a page that renders larger is cut again (halving), so a
  ten-year chat is thousands of small pages behind one small overview — which is why a
  500,000-message chat opens instantly.
- Each chat's overview lists its years and months (each linking to the page and message where
  the month starts) and every page; each page links to the previous and next one.
- Media are copied once into ``media/`` under their snapshot path, streamed blob by blob; with
  ``embed`` those up to :data:`EMBED_MAX` bytes are inlined as ``data:`` URIs instead.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from coffer.browse.adapters.base import FIRST, ChatAdapter
from coffer.browse.adapters.generic import GenericAdapter
from coffer.browse.catalog import Catalog, SnapshotView, Source, resolve_media
from coffer.browse.errors import NothingToBrowse
from coffer.browse.export_urls import ExportUrls, data_uri, page_name
from coffer.browse.model import Chat, Cursor, Message
from coffer.browse.render import STATIC, render
from coffer.browse.stream import BlobFile, sniff

PER_PAGE = 500
PAGE_BUDGET = 1_000_000
EMBED_MAX = 256 * 1024
TABLE_ROWS = 500


@dataclass
class ExportStats:
    sources: int = 0
    chats: int = 0
    messages: int = 0
    pages: int = 0
    media_files: int = 0
    media_bytes: int = 0
    largest_page: int = 0


@dataclass
class MonthEntry:
    label: str
    year: int
    count: int
    page: int
    first_id: int


@dataclass
class ChatExport:
    chat: Chat
    months: list[MonthEntry] = field(default_factory=list)
    pages: int = 0


def prepare_target(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise NothingToBrowse(f"{out} exists and is not an empty folder")
    out.mkdir(parents=True, exist_ok=True)


class Exporter:
    def __init__(self, catalog: Catalog, view: SnapshotView, out: Path, embed: bool) -> None:
        self.catalog = catalog
        self.view = view
        self.out = out
        self.embed = embed
        self.stats = ExportStats()
        self._copied: dict[str, str] = {}  # snapshot path → link relative to the root

    def run(self) -> ExportStats:
        (self.out / "static").mkdir()
        (self.out / "static" / "app.css").write_bytes((STATIC / "app.css").read_bytes())
        for src in self.view.sources:
            (self.out / src.slug).mkdir()
            if isinstance(src.adapter, ChatAdapter):
                self._chats(src, src.adapter)
            elif isinstance(src.adapter, GenericAdapter):
                self._tables(src, src.adapter)
            self.stats.sources += 1
        self._write("index.html", render("export_index.html", urls=ExportUrls(0),
                                         view=self.view, sources=self.view.sources))  # fmt: skip
        return self.stats

    def _write(self, rel: str, text: str) -> None:
        data = text.encode()
        path = self.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.stats.largest_page = max(self.stats.largest_page, len(data))

    # -- chats ----------------------------------------------------------------------------
    def _chats(self, src: Source, adapter: ChatAdapter) -> None:
        done = [self._chat(src, adapter, chat) for chat in adapter.chats()]
        self._write(f"{src.slug}/index.html", render("export_chats.html", urls=ExportUrls(1),
                    view=self.view, src=src, chats=done))  # fmt: skip

    def _chat(self, src: Source, adapter: ChatAdapter, chat: Chat) -> ChatExport:
        result = ChatExport(chat)
        pages: dict[int, str] = {}
        messages = _all_messages(adapter, chat.id)
        buffer: deque[Message] = deque()
        number = 0
        while True:
            while len(buffer) < PER_PAGE + 1:
                got = next(messages, None)
                if got is None:
                    break
                buffer.extend(got)
            if not buffer:
                break
            number += 1
            take = min(PER_PAGE, len(buffer))
            while True:
                batch = [buffer[i] for i in range(take)]
                more = len(buffer) > take
                html = self._page(src, chat, number, batch, more, pages)
                if len(html.encode()) <= PAGE_BUDGET or take == 1:
                    break
                take = max(1, take // 2)
            for _ in range(take):
                m = buffer.popleft()
                pages[m.id] = f"{src.slug}/{chat.id}/{page_name(number)}"
                self._month(result, m, number)
            self._write(f"{src.slug}/{chat.id}/{page_name(number)}", html)
            self.stats.pages += 1
            self.stats.messages += take
        result.pages = number
        self._write(f"{src.slug}/{chat.id}/index.html", render("export_chat.html",
                    urls=ExportUrls(2), view=self.view, src=src, result=result))  # fmt: skip
        self.stats.chats += 1
        return result

    @staticmethod
    def _month(result: ChatExport, m: Message, number: int) -> None:
        label = m.when.strftime("%B %Y")
        if result.months and result.months[-1].label == label:
            result.months[-1].count += 1
        else:
            result.months.append(MonthEntry(label, m.when.year, 1, number, m.id))

    def _page(self, src: Source, chat: Chat, number: int, messages: list[Message], more: bool,
              pages: dict[int, str]) -> str:  # fmt: skip
        urls = ExportUrls(2, pages)
        media = {ref.path: self._media(src, ref.path, 2) for m in messages for ref in m.media}
        return render("export_page.html", urls=urls, view=self.view, src=src, chat=chat,
                      messages=messages, number=number, more=more, media=media)  # fmt: skip

    def _media(self, src: Source, stored: str, depth: int) -> str | None:
        path = resolve_media(self.view.files, src.base, stored)
        if path is None:
            return None
        if path not in self._copied:
            self._copied[path] = self._copy(path)
        link = self._copied[path]
        return link if link.startswith("data:") else "../" * depth + link

    def _copy(self, path: str) -> str:
        node = self.view.files[path]
        blobs = BlobFile.of(self.catalog.repo, node)
        self.stats.media_files += 1
        self.stats.media_bytes += blobs.size
        if self.embed and blobs.size <= EMBED_MAX:
            raw = b"".join(blobs.read(0, blobs.size - 1)) if blobs.size else b""
            return data_uri(sniff(raw[:64]), raw)
        target = self.out / "media" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as fh:
            for piece in blobs.read(0, blobs.size - 1) if blobs.size else ():
                fh.write(piece)
        os.utime(target, ns=(node.mtime_ns, node.mtime_ns))
        return ExportUrls(0).media(path)

    # -- tables ---------------------------------------------------------------------------
    def _tables(self, src: Source, adapter: GenericAdapter) -> None:
        tables = adapter.tables()
        counts = []
        for number, table in enumerate(tables, start=1):
            counts.append(self._table(src, adapter, number, table.name))
        listing = list(zip(tables, counts, strict=True))
        self._write(f"{src.slug}/index.html", render("export_tables.html", urls=ExportUrls(1),
                    view=self.view, src=src, tables=listing))  # fmt: skip

    def _table(self, src: Source, adapter: GenericAdapter, number: int, name: str) -> int:
        after: int | None = None
        page = 0
        while True:
            page += 1
            rows = adapter.page(name, after, TABLE_ROWS)
            self._write(f"{src.slug}/t{number}/{page_name(page)}", render(
                "export_table.html", urls=ExportUrls(2), view=self.view, src=src, rows=rows,
                number=number, page=page, more=rows.next_after is not None))  # fmt: skip
            self.stats.pages += 1
            if rows.next_after is None:
                return page
            after = rows.next_after


def _all_messages(adapter: ChatAdapter, chat_id: int) -> Iterator[list[Message]]:
    cursor = Cursor(FIRST, FIRST)
    while True:
        got = adapter.messages(chat_id, after=cursor, limit=PER_PAGE)
        if not got:
            return
        yield got
        cursor = got[-1].cursor


def export_html(catalog: Catalog, snapshot: str, out: Path, *, embed: bool = False) -> ExportStats:
    """Write ``snapshot``'s chats under ``out`` (new or empty) and return what was written."""
    view = catalog.view(snapshot)
    if not view.sources:
        raise NothingToBrowse(f"snapshot {view.info.short} holds no database to export")
    prepare_target(out)
    return Exporter(catalog, view, out, embed).run()
