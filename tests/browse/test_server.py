"""The browser app over HTTP (in-process): guard, views of every adapter, media, search, dates."""

from __future__ import annotations

import itertools
import re

import markupsafe
import pytest
from starlette.testclient import TestClient

from coffer.browse.catalog import Catalog, Source

from .conftest import TOKEN, Phone
from .stores import HOSTILE_NAME, HOSTILE_TEXT

# one worker builds the fixture repository once and runs every browse test
pytestmark = pytest.mark.xdist_group("browse")


def src_of(catalog: Catalog, snap: str, name: str) -> Source:
    return next(s for s in catalog.view(snap).sources if s.adapter.name == name)


def url(snap: str, src: Source | None = None, rest: str = "") -> str:
    return f"/{TOKEN}/s/{snap}/" + (f"{src.slug}/" if src else "") + rest


def test_wrong_token_host_or_method_is_refused(client: TestClient, phone: Phone) -> None:
    assert client.get(f"/{TOKEN}/").status_code == 200
    assert client.get("/").status_code == 404
    assert client.get(f"/{TOKEN[:-1]}x/").status_code == 404
    assert client.get(f"/{TOKEN}/", headers={"host": "evil.example:80"}).status_code == 421
    assert client.post(f"/{TOKEN}/").status_code == 405
    refused = client.get("/nope/")
    assert "content-security-policy" in refused.headers


def test_every_answer_has_strict_headers_and_no_cors(client: TestClient, phone: Phone) -> None:
    r = client.get(f"/{TOKEN}/", headers={"origin": "http://evil.example"})
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert not any(h.startswith("access-control-") for h in r.headers)


def test_snapshot_picker_lists_both_snapshots(client: TestClient, phone: Phone) -> None:
    page = client.get(f"/{TOKEN}/").text
    for snap in phone.snapshots:
        assert snap[:8] in page


def test_sources_page_lists_every_adapter(client: TestClient, phone: Phone) -> None:
    page = client.get(url(phone.snapshots[0])).text
    for label in ("Coffer sample chat store", "WhatsApp (Android msgstore.db)",
                  "macOS Messages (chat.db)", "Telegram Desktop export (result.json)",
                  "SQLite tables"):  # fmt: skip
        assert label in page


@pytest.mark.parametrize("adapter", ["sample", "whatsapp", "imessage", "telegram"])
def test_chat_list_and_newest_thread_page(
    client: TestClient, catalog: Catalog, phone: Phone, adapter: str
) -> None:
    snap = phone.snapshots[0]
    src = src_of(catalog, snap, adapter)
    chats = src.chats.chats()
    assert chats and all(a.last_ms >= b.last_ms for a, b in itertools.pairwise(chats))
    listing = client.get(url(snap, src)).text
    assert str(markupsafe.escape(chats[0].name)) in listing
    biggest = max(chats, key=lambda c: c.count)
    page = client.get(url(snap, src, f"c/{biggest.id}"))
    assert page.status_code == 200
    shown = re.findall(r'<article class="msg[^"]*" id="m(\d+)"', page.text)
    assert 0 < len(shown) <= 50
    newest = src.chats.messages(biggest.id, limit=1)[0]
    assert str(newest.id) == shown[-1]


def test_whatsapp_reply_media_and_caption(
    client: TestClient, catalog: Catalog, phone: Phone
) -> None:
    snap = phone.snapshots[0]
    src = src_of(catalog, snap, "whatsapp")
    text = client.get(url(snap, src, "c/1")).text
    assert 'class="quote"' in text and "pancakes at 10" in text
    assert "at=10" in text  # the quote links to the quoted message
    assert "<img src=" in text and "IMG-20240101-WA0001.jpg" in text
    assert "<audio controls" in text
    assert "Menu.pdf" in text and "download" in text


def test_imessage_text_from_attributed_body_and_apple_dates(catalog: Catalog, phone: Phone) -> None:
    src = src_of(catalog, phone.snapshots[0], "imessage")
    chat = next(c for c in src.chats.chats() if c.id == 1)
    msgs = src.chats.messages(1, limit=200)
    assert [m.text for m in msgs if m.id == 1] == ["chapter 1 was great"]  # attributedBody only
    assert msgs[0].when.year == 2024 and msgs[0].when.month == 1
    assert all(m.id != 63 for m in msgs)  # the tapback is not a message
    reply = next(m for m in msgs if m.id == 62)
    assert reply.quote is not None and reply.quote.text == "see you at the lighthouse"
    assert chat.count == len(msgs)


def test_telegram_text_entities_reply_and_missing_file(catalog: Catalog, phone: Phone) -> None:
    src = src_of(catalog, phone.snapshots[0], "telegram")
    kim = next(c for c in src.chats.chats() if c.name == "Kim")
    msgs = src.chats.messages(kim.id, limit=100)
    by_text = {m.text: m for m in msgs if m.text}
    assert by_text["look at this"].media[0].kind == "image"  # text entities joined
    assert by_text["nice one"].from_me and by_text["nice one"].quote is not None
    assert by_text["nice one"].quote.text == "look at this"
    assert any(m.media and m.media[0].kind == "audio" for m in msgs)
    assert msgs[-1].media == ()  # "(File not included…)" is no media, and says so
    assert msgs[-1].text == "(video file not included in the export)"
    assert kim.last_text == msgs[-1].text


def test_a_chat_whose_last_message_has_no_text_shows_what_it_was(
    catalog: Catalog, phone: Phone
) -> None:
    """The chat list never shows an empty preview where the thread shows something."""
    snap = phone.snapshots[0]
    whatsapp = {c.name: c for c in src_of(catalog, snap, "whatsapp").chats.chats()}
    assert whatsapp[next(n for n in whatsapp if n.startswith("Climbing"))].last_text == (
        "(system message)"
    )
    telegram = src_of(catalog, snap, "telegram")
    trip = next(c for c in telegram.chats.chats() if c.name.startswith("Trip"))
    assert trip.last_text == HOSTILE_TEXT
    for name in ("whatsapp", "telegram", "imessage", "sample"):
        for chat in src_of(catalog, snap, name).chats.chats():
            assert chat.last_text, (name, chat.name)


def test_paging_older_and_newer_walks_the_whole_chat(catalog: Catalog, phone: Phone) -> None:
    from coffer.browse.pages import thread_page

    src = src_of(catalog, phone.snapshots[0], "sample")
    chat = max(src.chats.chats(), key=lambda c: c.count)
    seen: list[int] = []
    page = thread_page(src.chats, chat.id)
    while True:
        seen[:0] = [m.id for m in page.messages]
        if page.older is None:
            break
        page = thread_page(src.chats, chat.id, before=page.older)
    assert len(seen) == chat.count == len(set(seen))
    forward: list[int] = []
    page = thread_page(src.chats, chat.id, after=src.chats.cursor_at(0))
    while True:
        forward += [m.id for m in page.messages]
        if page.newer is None:
            break
        page = thread_page(src.chats, chat.id, after=page.newer)
    assert forward == seen


def test_jump_to_date(client: TestClient, catalog: Catalog, phone: Phone) -> None:
    snap = phone.snapshots[0]
    src = src_of(catalog, snap, "whatsapp")
    page = client.get(url(snap, src, "c/2?date=2024-01-31")).text
    assert "from 2024-01-31" in page
    first = re.search(r'<time datetime="([^"]+)"', page)
    assert first is not None and first.group(1).startswith("2024-01-31")
    assert client.get(url(snap, src, "c/2?date=yesterday")).status_code == 400


def test_search_highlights_and_links_to_the_message(
    client: TestClient, catalog: Catalog, phone: Phone
) -> None:
    snap = phone.snapshots[0]
    src = src_of(catalog, snap, "whatsapp")
    assert src.search is not None
    src.search.start()
    assert src.search.ready.wait(60)
    page = client.get(url(snap, src, "search?q=Pancakes")).text
    assert "<mark>pancakes</mark>" in page
    assert "13 messages match" in page  # 12 "pancakes at N" and the reply
    assert "c/1?at=124#m124" in page.replace("&amp;", "&")
    target = client.get(url(snap, src, "c/1?at=124")).text
    assert 'class="msg me anchor" id="m124"' in target


def test_whats_new_since_the_previous_snapshot(
    client: TestClient, catalog: Catalog, phone: Phone
) -> None:
    new, old = phone.snapshots[1], phone.snapshots[0]
    src = src_of(catalog, new, "whatsapp")
    page = client.get(url(new, src, "new")).text
    assert old[:8] in page
    assert "5 new messages" in page and "new chat" in page
    assert "1 new message<" in page and "1 new messages" not in page  # the new chat's one
    assert "Climbing" not in page  # nothing new there
    unchanged = src_of(catalog, new, "telegram")
    assert "No new messages" in client.get(url(new, unchanged, "new")).text


def test_switching_snapshot_keeps_the_place(
    client: TestClient, catalog: Catalog, phone: Phone
) -> None:
    new, old = phone.snapshots[1], phone.snapshots[0]
    src = src_of(catalog, new, "whatsapp")
    page = client.get(url(new, src, "c/1?date=2024-01-01")).text.replace("&amp;", "&")
    other = re.search(rf'href="(/{TOKEN}/s/{old}/{src.slug}/c/1\?after=[^"]+)"', page)
    assert other is not None
    there = client.get(other.group(1)).text
    ids = re.findall(r'id="m(\d+)"', page)[:5]
    assert re.findall(r'id="m(\d+)"', there)[:5] == ids


def test_generic_table_browser_pages_rows(
    client: TestClient, catalog: Catalog, phone: Phone
) -> None:
    snap = phone.snapshots[0]
    src = src_of(catalog, snap, "tables")
    listing = client.get(url(snap, src)).text
    assert "notes" in listing and "tags" in listing and "recent" in listing
    first = client.get(url(snap, src, "t/notes")).text
    assert first.count("<tr>") == 101  # header + 100 rows
    assert "BLOB 1 bytes: 00" in first
    more = re.search(r'href="([^"]+t/notes\?after=100)"', first)
    assert more is not None
    rest = client.get(more.group(1).replace("&amp;", "&")).text
    assert "note 101" in rest and "note 100<" not in rest
    assert client.get(url(snap, src, "t/tags")).status_code == 200
    assert client.get(url(snap, src, "t/nope")).status_code == 404


def test_media_range_requests_and_types(client: TestClient, catalog: Catalog, phone: Phone) -> None:
    snap = phone.snapshots[0]
    base = f"/{TOKEN}/s/{snap}/f/"
    voice = base + "phone/WhatsApp/Media/WhatsApp Voice Notes/202401/PTT-20240101-WA0002.opus"
    whole = client.get(voice)
    assert whole.status_code == 200 and whole.headers["content-type"] == "audio/wav"
    assert whole.headers["accept-ranges"] == "bytes"
    part = client.get(voice, headers={"range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == whole.content[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(whole.content)}"
    tail = client.get(voice, headers={"range": "bytes=-10"})
    assert tail.content == whole.content[-10:]
    assert client.get(voice, headers={"range": f"bytes={len(whole.content)}-"}).status_code == 416
    pdf = client.get(base + "phone/WhatsApp/Media/WhatsApp Documents/Menu.pdf")
    assert pdf.headers["content-disposition"].startswith("attachment")
    assert client.get(base + "phone/nope.jpg").status_code == 404


def test_a_video_is_served_for_the_player_with_ranges(
    client: TestClient, catalog: Catalog, phone: Phone
) -> None:
    snap = phone.snapshots[0]
    src = src_of(catalog, snap, "telegram")
    kim = next(c for c in src.chats.chats() if c.name == "Kim")
    [clip] = [m for m in src.chats.messages(kim.id, limit=100) if m.text == "the ride"]
    assert [r.kind for r in clip.media] == ["video"]
    page = client.get(url(snap, src, f"c/{kim.id}?at={clip.id}")).text
    player = re.search(r'<video controls preload="metadata" src="([^"]+)"', page)
    assert player is not None
    whole = client.get(player.group(1).replace("&amp;", "&"))
    assert whole.status_code == 200 and whole.headers["content-type"] == "video/webm"
    part = client.get(player.group(1).replace("&amp;", "&"), headers={"range": "bytes=4-99"})
    assert part.status_code == 206 and part.content == whole.content[4:100]


def test_a_media_file_is_typed_by_its_bytes_not_its_claim(
    client: TestClient, catalog: Catalog, phone: Phone
) -> None:
    from urllib.parse import quote

    snap = phone.snapshots[0]
    path = quote(f"phone/WhatsApp/Media/WhatsApp Images/{HOSTILE_NAME}")
    r = client.get(f"/{TOKEN}/s/{snap}/f/{path}")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"  # app said text/html
    assert "sandbox" in r.headers["content-security-policy"]
    notes = client.get(f"/{TOKEN}/s/{snap}/f/phone/other-app/notes.sqlite")
    assert notes.headers["content-type"] == "application/octet-stream"


def test_hostile_text_is_escaped_everywhere(
    client: TestClient, catalog: Catalog, phone: Phone
) -> None:
    snap = phone.snapshots[0]
    pages = []
    for src in catalog.view(snap).sources:
        pages.append(client.get(url(snap, src)).text)
        if src.adapter.kind == "chats":
            for chat in src.chats.chats():
                pages.append(client.get(url(snap, src, f"c/{chat.id}")).text)
        else:
            pages.append(client.get(url(snap, src, "t/notes")).text)
    joined = "\n".join(pages)
    assert "&lt;img src=x onerror=alert(1)&gt;" in joined
    assert HOSTILE_TEXT not in joined
    assert "<script>alert" not in joined and "<img src=x" not in joined
    assert re.search(r"<script(?![^>]*src=\"/)", joined) is None  # only our own script file


def test_a_bad_parameter_is_a_400_page_not_a_traceback(
    client: TestClient, catalog: Catalog, phone: Phone
) -> None:
    snap = phone.snapshots[0]
    src = src_of(catalog, snap, "sample")
    for bad in ("c/1?before=x", "c/1?at=-4", "c/abc", "?page=zz"):
        r = client.get(url(snap, src, bad))
        assert r.status_code == 400, bad
        assert "Traceback" not in r.text
    assert client.get(url(snap, src, "c/999999")).status_code == 404
    assert client.get(f"/{TOKEN}/s/ffffffff/").status_code == 404


def test_no_template_marks_content_safe() -> None:
    from coffer.browse.render import TEMPLATES

    for template in TEMPLATES.glob("*.html"):
        assert "|safe" not in template.read_text().replace(" ", ""), template.name
        assert "autoescape false" not in template.read_text()


def test_a_range_reads_only_the_blobs_it_overlaps(
    catalog: Catalog, phone: Phone, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Media are streamed from the repository blob by blob, never restored whole: a range in the
    middle of a many-blob file authenticates just the blobs under it."""
    from coffer.browse.stream import BlobFile

    view = catalog.view(phone.snapshots[0])
    path, node = max(view.files.items(), key=lambda item: len(item[1].content))
    assert len(node.content) >= 4, (path, len(node.content))
    repo = catalog.repo
    whole = b"".join(repo.read_blob(b) for b in node.content)
    blobs = BlobFile.of(repo, node)
    read: list[bytes] = []
    real = repo.read_blob
    monkeypatch.setattr(repo, "read_blob", lambda bid: (read.append(bid), real(bid))[1])
    start = blobs.starts[2] + 1  # inside the third blob, up to inside the fourth
    end = blobs.starts[3] + 5
    assert b"".join(blobs.read(start, end)) == whole[start : end + 1]
    assert read == [node.content[2], node.content[3]]
