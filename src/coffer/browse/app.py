"""The ASGI app of ``coffer browse``: routes, views and error pages (Starlette).

Rules: every view is a plain sync function (Starlette runs it in its thread pool, so a database
being rebuilt never blocks other requests); views only read. Query parameters are validated
here (:func:`_int`, :class:`~coffer.browse.model.Cursor`), and any :class:`BrowseError` becomes
an error page with its status and one escaped line. The app sits behind
:class:`~coffer.browse.security.Guard`, which :func:`make_app` puts in front.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from coffer.browse.catalog import Catalog, SnapshotView, Source, resolve_media
from coffer.browse.errors import BadRequest, NotFound
from coffer.browse.media import file_response
from coffer.browse.model import Cursor, Message
from coffer.browse.pages import search_page, thread_page, whats_new
from coffer.browse.render import STATIC, render
from coffer.browse.security import Guard
from coffer.browse.urls import Urls, unquote_path
from coffer.errors import CofferError

CHATS_PER_PAGE = 100
STATIC_FILES = {"app.css": "text/css", "app.js": "text/javascript"}


@dataclass
class Browser:
    catalog: Catalog
    urls: Urls


def _b(request: Request) -> Browser:
    browser: Browser = request.app.state.browser
    return browser


def _int(request: Request, name: str, default: int | None = None) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a number") from None
    if value < 0 or value > 1 << 62:
        raise BadRequest(f"{name} is out of range")
    return value


def _cursor(request: Request, name: str) -> Cursor | None:
    raw = request.query_params.get(name)
    return Cursor.parse(raw) if raw else None


def _page(name: str, request: Request, **context: Any) -> HTMLResponse:
    browser = _b(request)
    return HTMLResponse(render(name, urls=browser.urls, snapshots=browser.catalog.infos, **context))


class Preparing(Exception):
    """The snapshot's databases are still being rebuilt: answer a page that refreshes."""

    def __init__(self, snap: str) -> None:
        super().__init__(snap)
        self.snap = snap


def _view(request: Request) -> SnapshotView:
    catalog = _b(request).catalog
    snap = catalog.resolve(request.path_params["snap"])
    view = catalog.ready(snap)
    if view is None:
        raise Preparing(snap)
    return view


def _source(request: Request) -> tuple[SnapshotView, Source]:
    view = _view(request)
    return view, view.source(request.path_params["src"])


def home(request: Request) -> Response:
    return _page("home.html", request)


def snapshot(request: Request) -> Response:
    view = _view(request)
    if len(view.sources) == 1:
        urls = _b(request).urls
        return RedirectResponse(urls.chats(view.info.id, view.sources[0].slug), status_code=303)
    return _page("sources.html", request, view=view)


def chats(request: Request) -> Response:
    view, src = _source(request)
    if src.adapter.kind == "tables":
        return _page("tables.html", request, view=view, src=src, tables=src.adapter.tables())  # type: ignore[attr-defined]
    page = _int(request, "page", 1) or 1
    everything = src.chats.chats()
    shown = everything[(page - 1) * CHATS_PER_PAGE : page * CHATS_PER_PAGE]
    pages = max(1, (len(everything) + CHATS_PER_PAGE - 1) // CHATS_PER_PAGE)
    previous = _b(request).catalog.previous(view.info.id)
    urls = _b(request).urls
    switch = [(i, urls.chats(i.id, src.slug)) for i in _b(request).catalog.infos]
    return _page("chats.html", request, view=view, src=src, chats=shown, page=page, pages=pages,
                 total=len(everything), previous=previous, switch=switch)  # fmt: skip


def thread(request: Request) -> Response:
    view, src = _source(request)
    chat_id = _path_int(request, "chat")
    page = thread_page(
        src.chats, chat_id, before=_cursor(request, "before"), after=_cursor(request, "after"),
        at=_int(request, "at"), date=request.query_params.get("date") or None,
    )  # fmt: skip
    urls = _b(request).urls
    here = page.messages[0].cursor if page.messages else None
    place = Cursor(here.time, here.id - 1) if here else None
    switch = [(i, urls.thread(i.id, src.slug, chat_id, after=place))
              for i in _b(request).catalog.infos]  # fmt: skip
    return _page("thread.html", request, view=view, src=src, page=page, switch=switch,
                 media=media_links(view, src, page.messages, urls))  # fmt: skip


def months(request: Request) -> Response:
    view, src = _source(request)
    chat = src.chats.chat(_path_int(request, "chat"))
    if chat is None:
        raise NotFound("no such chat")
    return _page("months.html", request, view=view, src=src, chat=chat,
                 months=src.chats.months(chat.id))  # fmt: skip


def search(request: Request) -> Response:
    view, src = _source(request)
    if src.search is None:
        raise NotFound("this database has no messages to search")
    query = request.query_params.get("q", "")[:200]
    result = search_page(src.chats, src.search, query, _int(request, "page", 1) or 1)
    return _page("search.html", request, view=view, src=src, result=result)


def new(request: Request) -> Response:
    view, src = _source(request)
    catalog = _b(request).catalog
    prev_info = catalog.previous(view.info.id)
    prev_src = None
    if prev_info is not None:
        prev_view = catalog.view(prev_info.id)
        prev_src = next((s for s in prev_view.sources if s.slug == src.slug), None)
    changes = None
    if prev_src is not None and prev_src.adapter.kind == "chats":
        changes = whats_new(src.chats, prev_src.chats)
    return _page("new.html", request, view=view, src=src, previous=prev_info, changes=changes,
                 had_source=prev_src is not None)  # fmt: skip


def table(request: Request) -> Response:
    view, src = _source(request)
    if src.adapter.kind != "tables":
        raise NotFound("not a table browser")
    name = unquote_path(request.path_params["name"])
    rows = src.adapter.page(name, _int(request, "after"))  # type: ignore[attr-defined]
    return _page("table.html", request, view=view, src=src, rows=rows)


def files(request: Request) -> Response:
    view = _view(request)
    path = unquote_path(request.path_params["path"])
    node = view.files.get(path)
    if node is None:
        raise NotFound("no such file in this snapshot")
    return file_response(_b(request).catalog.repo, node, path, request)


def static(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in STATIC_FILES:
        raise NotFound("no such file")
    return FileResponse(STATIC / name, media_type=STATIC_FILES[name])


def _path_int(request: Request, name: str) -> int:
    try:
        return int(request.path_params[name])
    except ValueError:
        raise BadRequest(f"{name} must be a number") from None


def media_links(
    view: SnapshotView, src: Source, messages: list[Message], urls: Urls
) -> dict[str, str | None]:
    """Stored media path → URL of the snapshot file it resolves to (None: not in the snapshot)."""
    out: dict[str, str | None] = {}
    for m in messages:
        for ref in m.media:
            found = resolve_media(view.files, src.base, ref.path)
            out[ref.path] = urls.file(view.info.id, found) if found is not None else None
    return out


async def _preparing(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Preparing)
    catalog = _b(request).catalog
    path, done, total = catalog.progress.get(exc.snap, ("", 0, 0))
    info = next(i for i in catalog.infos if i.id == exc.snap)
    body = render("preparing.html", urls=_b(request).urls, snapshots=[], info=info, path=path,
                  done=done, total=total, again=_b(request).urls.here(request))  # fmt: skip
    return HTMLResponse(body, status_code=503, headers={"retry-after": "1"})


async def _error(request: Request, exc: Exception) -> Response:
    status, message = 500, str(exc)
    if isinstance(exc, NotFound):
        status = 404
    elif isinstance(exc, BadRequest):
        status = 400
    elif isinstance(exc, HTTPException):
        status, message = exc.status_code, str(exc.detail)
    elif not isinstance(exc, CofferError):
        message = f"internal error ({type(exc).__name__})"
    body = render("error.html", urls=_b(request).urls, snapshots=[], status=status,
                  message=message)  # fmt: skip
    return HTMLResponse(body, status_code=status)


ROUTES = [
    Route("/", home),
    Route("/static/{name}", static),
    Route("/s/{snap}/", snapshot),
    Route("/s/{snap}/f/{path:path}", files),
    Route("/s/{snap}/{src}/", chats),
    Route("/s/{snap}/{src}/c/{chat}", thread),
    Route("/s/{snap}/{src}/c/{chat}/months", months),
    Route("/s/{snap}/{src}/search", search),
    Route("/s/{snap}/{src}/new", new),
    Route("/s/{snap}/{src}/t/{name:path}", table),
]


def make_app(catalog: Catalog, token: str, hosts: set[str]) -> Guard:
    """The browser app behind its guard; ``hosts`` may be filled in after the port is bound."""
    app = Starlette(
        routes=ROUTES,
        exception_handlers={
            Preparing: _preparing,
            CofferError: _error,
            HTTPException: _error,
            Exception: _error,
        },
    )
    app.state.browser = Browser(catalog, Urls(token))
    return Guard(app, token, hosts)
