"""Refresh the README's screenshots (docs/img/) from the browser tests' artifacts.

The README shows what ``coffer browse`` and ``coffer export html`` look like; those pictures are
the browser tests' own screenshots (``tests/browse/test_browser.py`` writes them to
``test-artifacts/browse/``), scaled to 80 % so they stay small. Run after the browser tests:

    .venv/bin/pytest tests/browse/test_browser.py && .venv/bin/python scripts/readme_screenshots.py

Chromium draws what the machine's fonts cover: the sample store's names and messages carry CJK
and emoji, which need ``fonts-droid-fallback`` and ``fonts-noto-color-emoji`` (Debian) — without
them the pictures show empty boxes. Look at each picture before committing it.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "browse"
OUT = ROOT / "docs" / "img"
SCALE = 0.8
# README picture → the test's screenshot
PICTURES = {
    "browse-chats.png": "20-chat-store-chats.png",
    "browse-thread.png": "04-thread.png",
    "browse-search.png": "06-search.png",
    "browse-switch.png": "11-switch-snapshot.png",
    "export-overview.png": "41-export-chat-overview.png",
}


def main() -> None:
    missing = [shot for shot in PICTURES.values() if not (ARTIFACTS / shot).is_file()]
    if missing:
        raise SystemExit(f"run the browser tests first: no {', '.join(missing)} in {ARTIFACTS}")
    for name, shot in PICTURES.items():
        with Image.open(ARTIFACTS / shot) as img:
            size = (round(img.width * SCALE), round(img.height * SCALE))
            small = img.convert("RGB").resize(size, Image.Resampling.LANCZOS)
            small.quantize(256).save(OUT / name, optimize=True)  # a palette: a third the bytes
        print(f"{OUT / name} ← {shot} ({size[0]}×{size[1]})")


if __name__ == "__main__":
    main()
