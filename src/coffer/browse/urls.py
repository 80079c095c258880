"""URLs of the browser's views, in one place: the server's (token-prefixed) and the export's.

Rules: every link a template prints comes from a :class:`Urls` method, so no template builds
a URL from content; path parts are percent-encoded from their bytes (surrogateescape names
included) and query values are urlencoded.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from coffer.browse.model import Cursor


def quote_path(path: str) -> str:
    return urllib.parse.quote(path.encode("utf-8", "surrogateescape"), safe="/")


def unquote_path(text: str) -> str:
    return urllib.parse.unquote_to_bytes(text).decode("utf-8", "surrogateescape")


class Urls:
    """Links of the live server, below ``/<token>``."""

    live = True
    csp = ""

    def __init__(self, token: str) -> None:
        self.root = f"/{token}"

    def _q(self, base: str, **query: object) -> str:
        items = {k: str(v) for k, v in query.items() if v is not None and v != ""}
        return f"{base}?{urllib.parse.urlencode(items)}" if items else base

    def static(self, name: str) -> str:
        return f"{self.root}/static/{name}"

    def here(self, request: Any) -> str:
        """The URL of the request being answered (its path is below the token)."""
        query = request.url.query
        return f"{self.root}{request.url.path}" + (f"?{query}" if query else "")

    def home(self) -> str:
        return f"{self.root}/"

    def snapshot(self, snap: str) -> str:
        return f"{self.root}/s/{snap}/"

    def chats(self, snap: str, src: str, page: int | None = None) -> str:
        return self._q(f"{self.root}/s/{snap}/{src}/", page=page)

    def thread(
        self, snap: str, src: str, chat: int, *, before: Cursor | None = None,
        after: Cursor | None = None, at: int | None = None, date: str | None = None,
    ) -> str:  # fmt: skip
        base = f"{self.root}/s/{snap}/{src}/c/{chat}"
        return self._q(
            base, before=before.token() if before else None, after=after.token() if after else None,
            at=at, date=date,
        ) + (f"#m{at}" if at is not None else "")  # fmt: skip

    def months(self, snap: str, src: str, chat: int) -> str:
        return f"{self.root}/s/{snap}/{src}/c/{chat}/months"

    def search(self, snap: str, src: str, q: str | None = None, page: int | None = None) -> str:
        return self._q(f"{self.root}/s/{snap}/{src}/search", q=q, page=page)

    def new(self, snap: str, src: str) -> str:
        return f"{self.root}/s/{snap}/{src}/new"

    def table(self, snap: str, src: str, name: str, after: int | None = None) -> str:
        return self._q(f"{self.root}/s/{snap}/{src}/t/{quote_path(name)}", after=after)

    def file(self, snap: str, path: str) -> str:
        return f"{self.root}/s/{snap}/f/{quote_path(path)}"
