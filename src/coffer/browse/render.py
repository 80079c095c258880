"""The Jinja2 environment shared by the server and the export: autoescape on, always.

Rules: templates are loaded from this package only; ``autoescape=True`` for every template (not
just ``.html``), undefined names raise; filters format times in UTC and sizes in binary units.
Nothing marks content as safe (no ``|safe`` in any template — a test checks).
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import jinja2

from coffer.browse.model import utc

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


def human_bytes(n: float | None) -> str:
    if n is None:
        return ""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def when(ms: int | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return utc(ms).strftime(fmt) if ms is not None else ""


def snap_time(iso: str) -> str:
    try:
        t = datetime.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso
    return t.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(ms: int | None) -> str:
    if not ms:
        return ""
    s = ms // 1000
    return f"{s // 60}:{s % 60:02d}"


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 message``, ``2 messages`` (``many`` for irregular plurals)."""
    return f"{count} {word if count == 1 else many or word + 's'}"


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters.update(
        bytes=human_bytes, when=when, snap_time=snap_time, duration=duration, plural=plural
    )
    return env


_ENV: jinja2.Environment | None = None


def render(name: str, **context: Any) -> str:
    global _ENV
    if _ENV is None:
        _ENV = environment()
    return _ENV.get_template(name).render(**context)
