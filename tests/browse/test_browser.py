"""``coffer browse`` in headless Chromium: what a person sees and does, and that nothing runs.

Every test asserts on what the page shows (text, a decoded image, a playing voice note) and
keeps a screenshot under test-artifacts/browse/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from coffer.browse.catalog import Catalog

from .browser import chromium, live_server, need_chromium, shot
from .conftest import Phone

pytestmark = pytest.mark.xdist_group("browse")


@pytest.fixture(scope="module")
def base(catalog: Catalog) -> Iterator[str]:
    need_chromium()
    with live_server(catalog) as url:
        yield url


@pytest.fixture(scope="module")
def browser(base: str) -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    pg = context.new_page()
    pg.dialogs = []
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    yield pg
    assert pg.dialogs == [], f"a script ran: {pg.dialogs}"
    context.close()


def open_source(page: Any, base: str, snap: str, label: str) -> None:
    page.goto(base + f"s/{snap}/")
    page.get_by_role("link", name=label).first.click()
    page.wait_for_selector("ul.chats, table.list")


def image_decoded(page: Any) -> int:
    page.wait_for_function(
        "() => [...document.querySelectorAll('.media img')].some(i => i.complete)"
    )
    widths: list[int] = page.eval_on_selector_all(
        ".media img", "els => els.map(e => e.naturalWidth)"
    )
    return max(widths)


def test_snapshot_picker_chats_thread_image_and_voice_note(
    page: Any, base: str, phone: Phone
) -> None:
    page.goto(base)
    assert page.locator("table.snapshots tbody tr").count() == 2
    shot(page, "01-snapshots")
    page.get_by_role("link", name=phone.snapshots[0][:8]).click()
    page.wait_for_selector("ul.sources li")  # a click does not wait for the new page's DOM
    assert "WhatsApp (Android msgstore.db)" in page.content()
    shot(page, "02-sources")
    page.get_by_role("link", name="phone/WhatsApp/Databases/msgstore.db").click()
    page.wait_for_selector("ul.chats .name")
    names = page.locator("ul.chats .name").all_inner_texts()
    assert names[0].startswith("Climbing") and "+15551230001" in names[1]
    shot(page, "03-chats")
    page.get_by_role("link", name=re.compile(r"\+15551230001")).click()
    page.wait_for_selector("article.msg")
    assert page.locator("article.msg").count() == 50
    assert image_decoded(page) == 320
    shot(page, "04-thread")
    page.eval_on_selector("audio", "a => { a.muted = true; return a.play(); }")
    page.wait_for_function("() => document.querySelector('audio').currentTime > 0.3", timeout=15000)
    assert page.eval_on_selector("audio", "a => a.duration") == pytest.approx(3.0, abs=0.1)


def test_scrolling_up_loads_older_messages(page: Any, base: str, phone: Phone) -> None:
    open_source(page, base, phone.snapshots[0], "phone/chat-store/msgstore.db")
    page.locator("ul.chats a").first.click()
    page.wait_for_selector("article.msg")
    first = page.locator("article.msg").first.get_attribute("id")
    page.get_by_role("link", name="Older messages").click()
    page.wait_for_function("() => document.querySelectorAll('article.msg').length > 50")
    assert page.locator("article.msg").count() == 100
    assert page.locator("article.msg").nth(50).get_attribute("id") == first
    shot(page, "05-sample-thread")


def test_search_highlights_and_opens_the_message(
    page: Any, base: str, phone: Phone, catalog: Catalog
) -> None:
    snap = phone.snapshots[0]
    src = next(s for s in catalog.view(snap).sources if s.adapter.name == "whatsapp")
    assert src.search is not None
    src.search.start()
    assert src.search.ready.wait(60)
    open_source(page, base, snap, "phone/WhatsApp/Databases/msgstore.db")
    page.get_by_role("searchbox").fill("pancakes")
    page.get_by_role("button", name="Search").click()
    page.wait_for_selector("ol.hits")
    assert "13 messages match" in page.inner_text("p.count")
    assert page.locator("ol.hits mark").first.inner_text().lower() == "pancakes"
    shot(page, "06-search")
    page.locator("ol.hits li a").first.click()
    page.wait_for_selector("article.anchor")
    assert "see you at pancakes" in page.inner_text("article.anchor")
    assert page.locator("article.anchor").is_visible()
    shot(page, "07-search-target")


def test_jump_to_date_and_months(page: Any, base: str, phone: Phone) -> None:
    open_source(page, base, phone.snapshots[0], "phone/chat-store/msgstore.db")
    page.locator("ul.chats a").first.click()
    page.wait_for_selector("article.msg")
    first_shown = page.locator("article.msg time").first.get_attribute("datetime")
    day = first_shown[:10]
    page.fill("form.jump input[type=date]", day)
    page.get_by_role("button", name="Go").click()
    page.wait_for_selector("p.note")
    assert page.inner_text("p.note") == f"from {day}"
    got = page.locator("article.msg time").first.get_attribute("datetime")
    assert got[:10] >= day
    shot(page, "08-jump-to-date")
    page.get_by_role("link", name="Months").click()
    page.wait_for_selector("section.year")  # count() does not wait for the new page
    assert page.locator("section.year").count() >= 1
    shot(page, "09-months")


def test_switch_snapshot_keeps_the_place_and_shows_whats_new(
    page: Any, base: str, phone: Phone
) -> None:
    old, new = phone.snapshots
    open_source(page, base, new, "phone/WhatsApp/Databases/msgstore.db")
    page.get_by_role("link", name=re.compile("What's new since")).click()
    assert "5 new messages" in page.inner_text("ul.chats")
    shot(page, "10-whats-new")
    page.get_by_role("link", name=re.compile(r"\+15551230001")).click()
    page.wait_for_selector("article.msg")
    assert page.locator("article.msg").first.inner_text().count("new day message 0") == 1
    page.goto(page.url.split("?")[0] + "?date=2024-01-01")
    ids = page.eval_on_selector_all("article.msg", "els => els.map(e => e.id)")
    page.locator("details.switch summary").click()
    shot(page, "11-switch-snapshot")
    page.get_by_role("link", name=re.compile(old[:8])).click()
    page.wait_for_selector("article.msg")
    assert f"/s/{old}/" in page.url
    assert page.eval_on_selector_all("article.msg", "els => els.map(e => e.id)")[:10] == ids[:10]


@pytest.mark.parametrize(
    ("label", "chat", "has_image"),
    [
        ("phone/chat-store/msgstore.db", None, True),
        ("phone/Library/Messages/chat.db", "+15557770001", True),
        ("phone/Telegram Desktop/DataExport_2024-02-01/result.json", "Kim", True),
    ],
)
def test_every_chat_adapter_in_the_browser(
    page: Any, base: str, phone: Phone, catalog: Catalog, label: str, chat: str | None,
    has_image: bool,
) -> None:  # fmt: skip
    snap = phone.snapshots[0]
    open_source(page, base, snap, label)
    assert page.locator("ul.chats li").count() >= 2
    name = label.split("/")[1].split(" ")[0].lower()
    shot(page, f"20-{name}-chats")
    if chat is None:  # the sample: open the chat with the real photo
        src = next(s for s in catalog.view(snap).sources if s.path == label)
        row = src.chats.db.one(
            "SELECT m.chat_id, m._id FROM media d JOIN messages m ON m._id = d.message_id "
            "WHERE d.kind = 'image' ORDER BY d._id"
        )
        assert row is not None
        page.goto(base + f"s/{snap}/{src.slug}/c/{row[0]}?at={row[1]}")
    else:
        page.get_by_role("link", name=re.compile(re.escape(chat))).first.click()
    page.wait_for_selector("article.msg")
    if has_image:
        assert image_decoded(page) == 320
    shot(page, f"21-{name}-thread")


def test_a_video_plays(page: Any, base: str, phone: Phone, catalog: Catalog) -> None:
    snap = phone.snapshots[0]
    src = next(s for s in catalog.view(snap).sources if s.adapter.name == "telegram")
    kim = next(c for c in src.chats.chats() if c.name == "Kim")
    [clip] = [m for m in src.chats.messages(kim.id, limit=100) if m.text == "the ride"]
    page.goto(base + f"s/{snap}/{src.slug}/c/{kim.id}?at={clip.id}")
    page.wait_for_selector("video")
    page.eval_on_selector("video", "v => { v.muted = true; return v.play(); }")
    page.wait_for_function("() => document.querySelector('video').currentTime > 0.3", timeout=15000)
    assert page.eval_on_selector("video", "v => [v.videoWidth, v.videoHeight]") == [64, 48]
    shot(page, "23-telegram-video")


def test_generic_table_browser(page: Any, base: str, phone: Phone) -> None:
    open_source(page, base, phone.snapshots[0], "phone/other-app/notes.sqlite")
    page.get_by_role("link", name="notes", exact=True).click()
    assert page.locator("table.cells tbody tr").count() == 100
    shot(page, "22-tables")


def test_hostile_messages_and_names_never_run(
    page: Any, base: str, phone: Phone, catalog: Catalog
) -> None:
    """Every chat of every adapter, whose texts, names and file names carry markup, runs nothing."""
    snap = phone.snapshots[0]
    page.add_init_script("window.__ran = []; window.alert = (m) => window.__ran.push(String(m));")
    for src in catalog.view(snap).sources:
        page.goto(base + f"s/{snap}/{src.slug}/")
        if src.adapter.kind == "chats":
            for chat in src.chats.chats()[:4]:
                page.goto(base + f"s/{snap}/{src.slug}/c/{chat.id}")
                page.wait_for_load_state("load")
                assert page.evaluate("window.__ran") == []
                assert page.locator("img[src='x']").count() == 0
                assert page.locator("script:not([src])").count() == 0
        else:
            page.goto(base + f"s/{snap}/{src.slug}/t/notes")
    page.goto(base + f"s/{snap}/" + next(s.slug for s in catalog.view(snap).sources
                                        if s.adapter.name == "whatsapp") + "/c/2")  # fmt: skip
    assert "<img src=x onerror=alert(1)>" in page.inner_text("h1")
    assert "<img src=x onerror=alert(1)>" in page.inner_text("article.msg >> nth=0")
    page.wait_for_timeout(300)
    assert page.evaluate("window.__ran") == []
    shot(page, "30-hostile")


@pytest.fixture(scope="module")
def export_dir(catalog: Catalog, phone: Phone, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from coffer.browse.export import export_html

    out = tmp_path_factory.mktemp("export-browser") / "archive"
    export_html(catalog, phone.snapshots[1], out)
    return out


def test_export_opens_offline_in_the_browser(
    page: Any, export_dir: Any, phone: Phone, catalog: Catalog
) -> None:
    """Every adapter's export from file://: chats, a chat overview, a page, images, no script."""
    page.add_init_script("window.__ran = []; window.alert = (m) => window.__ran.push(String(m));")
    page.route("**/*", lambda route: route.abort() if not route.request.url.startswith(
        ("file:", "data:")) else route.continue_())  # fmt: skip
    page.goto((export_dir / "index.html").as_uri())
    assert page.locator("ul.sources li").count() == 5
    shot(page, "40-export-index")
    view = catalog.view(phone.snapshots[1])
    for src in view.sources:
        page.goto((export_dir / "index.html").as_uri())
        page.get_by_role("link", name=src.path).click()
        if src.adapter.kind == "tables":
            page.get_by_role("link", name="notes", exact=True).click()
            assert page.locator("table.cells tbody tr").count() == 250
            continue
        chats = src.chats.chats()
        assert page.locator("ul.chats li").count() == len(chats)
        biggest = max(chats, key=lambda c: c.count)
        page.locator("ul.chats a", has_text=biggest.name).first.click()
        assert page.locator("section.year").count() >= 1
        if src.adapter.name == "whatsapp":
            shot(page, "41-export-chat-overview")
        page.get_by_role("link", name="Latest page").click()
        page.wait_for_selector("article.msg")
        if src.adapter.name != "sample":  # the sample's other photos are random bytes
            assert image_decoded(page) == 320
        shot(page, f"42-export-{src.adapter.name}-page")
        for chat in chats:
            page.goto((export_dir / src.slug / str(chat.id) / "p00001.html").as_uri())
            assert page.evaluate("window.__ran") == []
            assert page.locator("img[src='x']").count() == 0
    assert page.evaluate("window.__ran") == []
