"""Relative links between the files of a static export (no server, no token, no script).

Layout of an export folder::

    index.html                      the databases of the snapshot
    static/app.css
    <source>/index.html             its chats (or tables)
    <source>/<chat>/index.html      the chat's overview: years, months, pages
    <source>/<chat>/p00001.html     messages, about a page each (never over ~1 MB)
    <source>/t<n>/p00001.html       rows of a table (generic browser)
    media/<path in the snapshot>    media files, copied once
"""

from __future__ import annotations

from coffer.browse.urls import quote_path

EXPORT_CSP = (
    "default-src 'none'; img-src 'self' file: data:; media-src 'self' file: data:; "
    "style-src 'self' file:; base-uri 'none'; form-action 'none'"
)


def page_name(number: int) -> str:
    return f"p{number:05d}.html"


class ExportUrls:
    """Links from a file ``depth`` folders below the export's root."""

    live = False
    csp = EXPORT_CSP

    def __init__(self, depth: int, pages: dict[int, str] | None = None) -> None:
        self.up = "../" * depth
        self.pages = pages if pages is not None else {}  # message id → "<src>/<chat>/pN.html"

    def static(self, name: str) -> str:
        return f"{self.up}static/{name}"

    def home(self) -> str:
        return f"{self.up}index.html"

    def snapshot(self, snap: str) -> str:
        return self.home()

    def chats(self, snap: str, src: str, page: int | None = None) -> str:
        return f"{self.up}{src}/index.html"

    def chat(self, src: str, chat: int) -> str:
        return f"{self.up}{src}/{chat}/index.html"

    def page(self, src: str, chat: int, number: int, anchor: int | None = None) -> str:
        return f"{self.up}{src}/{chat}/{page_name(number)}" + (f"#m{anchor}" if anchor else "")

    def thread(self, snap: str, src: str, chat: int, *, at: int | None = None, **_: object) -> str:
        """A quote's link: the page holding message ``at`` if it is written already."""
        if at is not None and at in self.pages:
            return f"{self.up}{self.pages[at]}#m{at}"
        return self.chat(src, chat)

    def months(self, snap: str, src: str, chat: int) -> str:
        return self.chat(src, chat)

    def table(self, src: str, number: int, page: int = 1) -> str:
        return f"{self.up}{src}/t{number}/{page_name(page)}"

    def media(self, path: str) -> str:
        return f"{self.up}media/{quote_path(path)}"

    def file(self, snap: str, path: str) -> str:
        return self.media(path)


def data_uri(mime: str, raw: bytes) -> str:
    import base64

    return f"data:{mime};base64,{base64.b64encode(raw).decode()}"
