"""``coffer export html``: a static folder, paged under 1 MB, offline, for every adapter."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from coffer.browse.catalog import Catalog
from coffer.browse.export import PAGE_BUDGET, export_html

from .conftest import Phone
from .stores import HOSTILE_TEXT

# one worker builds the fixture repository once and runs every browse test
pytestmark = pytest.mark.xdist_group("browse")


@pytest.fixture(scope="module")
def exported(catalog: Catalog, phone: Phone, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export") / "archive"
    stats = export_html(catalog, phone.snapshots[1], out)
    assert stats.sources == 5 and stats.largest_page <= PAGE_BUDGET
    return out


def pages(out: Path) -> list[Path]:
    return sorted(out.rglob("*.html"))


def test_layout_index_chats_overview_pages(exported: Path, catalog: Catalog, phone: Phone) -> None:
    index = (exported / "index.html").read_text()
    view = catalog.view(phone.snapshots[1])
    for src in view.sources:
        assert f'href="{src.slug}/index.html"' in index
        assert (exported / src.slug / "index.html").is_file()
    sample = next(s for s in view.sources if s.adapter.name == "sample")
    big = max(sample.chats.chats(), key=lambda c: c.count)
    overview = (exported / sample.slug / str(big.id) / "index.html").read_text()
    assert re.search(r"<h2>20\d\d</h2>", overview)
    files = sorted((exported / sample.slug / str(big.id)).glob("p*.html"))
    assert len(files) == -(-big.count // 500)
    shown = sum(f.read_text().count('<article class="msg') for f in files)
    assert shown == big.count
    assert 'rel="next"' in files[0].read_text() and 'rel="prev"' in files[-1].read_text()
    wa = next(s for s in view.sources if s.adapter.name == "whatsapp")
    one = (exported / wa.slug / "1" / "index.html").read_text()
    assert "129 messages · 1 page<" in one  # not "1 pages"


def test_no_script_no_external_resource_and_escaped(exported: Path) -> None:
    for page in pages(exported):
        text = page.read_text()
        assert "<script" not in text, page
        assert 'http-equiv="Content-Security-Policy"' in text
        for link in re.findall(r'(?:src|href)="([^"]+)"', text):
            assert not re.match(r"[a-z]+:", link) or link.startswith("data:"), (page, link)
        assert HOSTILE_TEXT not in text
    joined = "".join(p.read_text() for p in pages(exported))
    assert "&lt;img src=x onerror=alert(1)&gt;" in joined


def test_media_beside_the_pages(exported: Path) -> None:
    photo = exported / "media/phone/WhatsApp/Media/WhatsApp Images/IMG-20240101-WA0001.jpg"
    assert photo.read_bytes()[:3] == b"\xff\xd8\xff"
    wa = next(p for p in pages(exported) if "breakfast plan number 1<" in p.read_text())
    assert "../../media/phone/WhatsApp/Media/WhatsApp%20Images/IMG-20240101-WA0001.jpg" in (
        wa.read_text()
    )


def test_a_page_that_would_pass_the_budget_is_cut(
    catalog: Catalog, phone: Phone, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import coffer.browse.export as export

    monkeypatch.setattr(export, "PAGE_BUDGET", 60_000)
    stats = export_html(catalog, phone.snapshots[0], tmp_path / "small")
    assert stats.largest_page <= 60_000
    sample_chat = max(
        (p for p in (tmp_path / "small").rglob("p*.html")), key=lambda p: p.stat().st_size
    )
    assert sample_chat.stat().st_size <= 60_000


def test_embedded_media_are_data_uris(catalog: Catalog, phone: Phone, tmp_path: Path) -> None:
    stats = export_html(catalog, phone.snapshots[0], tmp_path / "embedded", embed=True)
    assert stats.media_files > 0
    assert not (tmp_path / "embedded" / "media").exists()
    text = "".join(p.read_text() for p in (tmp_path / "embedded").rglob("*.html"))
    assert 'src="data:image/jpeg;base64,' in text and 'src="data:audio/wav;base64,' in text


def test_export_refuses_a_non_empty_folder(catalog: Catalog, phone: Phone, tmp_path: Path) -> None:
    from coffer.browse.errors import NothingToBrowse

    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    with pytest.raises(NothingToBrowse):
        export_html(catalog, phone.snapshots[0], tmp_path / "x")
    assert (tmp_path / "x" / "keep.txt").read_text() == "mine"


def test_export_cli(phone: Phone, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                    monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    from engine.cli_support import run_cli

    monkeypatch.setenv("COFFER_RECOVERY_KEY", phone.key.display())
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    run = run_cli(capsys, "export", "html", "latest", "--repo", str(phone.repo_path),
                  "--out", str(tmp_path / "out"))  # fmt: skip
    assert run.code == 0, run.err
    assert run.out.startswith("exported ") and "index.html" in run.out
    assert (tmp_path / "out" / "index.html").is_file()
    assert not list(tmp_path.glob("coffer-browse-*"))
    again = run_cli(capsys, "export", "html", "latest", "--repo", str(phone.repo_path),
                    "--out", str(tmp_path / "out"))  # fmt: skip
    assert again.code == 2 and "not an empty folder" in again.err
