"""Media files of a generated chat store: voice notes (.opus) and photos (.jpg).

Rules: contents are incompressible bytes from a per-file seeded RNG (``randbytes``), behind a
plausible magic header (JPEG SOI + JFIF APP0, ending in EOI; an Ogg page carrying ``OpusHead``)
so code deciding "skip compression for JPEG/Opus" can recognise them. Files are written in 1 MiB
pieces (bounded memory) and get the mtime of their message, so a tree is byte- and
metadata-identical for a seed.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import random
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from coffer.sample.spec import ChatStoreSpec

PIECE = 1 << 20
JPEG_HEADER = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
JPEG_TRAILER = b"\xff\xd9"
OPUS_HEAD = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, 312, 48_000, 0, 0)
OGG_PAGE = b"OggS\x00\x02" + bytes(8) + b"\x43\x46\x52\x31" + bytes(8) + b"\x01" + bytes([19])
OPUS_HEADER = OGG_PAGE + OPUS_HEAD


@dataclass(frozen=True)
class MediaItem:
    kind: str  # "image" or "voice"
    size: int


def plan_media(spec: ChatStoreSpec, rng: random.Random) -> list[MediaItem]:
    """Media files for the history: add files until the next one would pass ``media_bytes``."""
    items: list[MediaItem] = []
    total = 0
    while True:
        item = draw_item(spec, rng)
        if total + item.size > spec.media_bytes:
            return items
        items.append(item)
        total += item.size


def draw_item(spec: ChatStoreSpec, rng: random.Random) -> MediaItem:
    if rng.random() < spec.photo_share:
        return MediaItem("image", rng.randint(*spec.photo_range))
    return MediaItem("voice", rng.randint(*spec.voice_range))


def relpath(item: MediaItem, media_id: int, ts_ms: int) -> str:
    """WhatsApp-like names: ``media/WhatsApp Images/IMG-20231114-WA0003.jpg``."""
    when = datetime.datetime.fromtimestamp(ts_ms / 1000, tz=datetime.UTC)
    day = when.strftime("%Y%m%d")
    if item.kind == "image":
        return f"media/WhatsApp Images/IMG-{day}-WA{media_id:04d}.jpg"
    year, week, _ = when.isocalendar()
    return f"media/WhatsApp Voice Notes/{year}{week:02d}/PTT-{day}-WA{media_id:04d}.opus"


def write_media(
    root: Path, rel: str, item: MediaItem, seed: int, media_id: int, ts_ms: int
) -> bytes:
    """Write one media file and return its SHA-256."""
    rng = random.Random(f"coffer-sample/{seed}/media/{media_id}")
    header, trailer = (JPEG_HEADER, JPEG_TRAILER) if item.kind == "image" else (OPUS_HEADER, b"")
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    remaining = item.size - len(header) - len(trailer)
    with path.open("wb") as out:
        for piece in _pieces(rng, header, remaining, trailer):
            digest.update(piece)
            out.write(piece)
    ns = ts_ms * 1_000_000
    os.utime(path, ns=(ns, ns))
    return digest.digest()


def _pieces(rng: random.Random, header: bytes, remaining: int, trailer: bytes) -> Iterator[bytes]:
    first = min(remaining, PIECE - len(header))
    yield header + rng.randbytes(first)
    remaining -= first
    while remaining > 0:
        size = min(remaining, PIECE)
        yield rng.randbytes(size)
        remaining -= size
    yield trailer


def media_row(
    media_id: int, message_id: int, item: MediaItem, rel: str, digest: bytes, rng: random.Random
) -> tuple[object, ...]:
    """The ``media`` table row for a written file (see ``schema.MEDIA_COLUMNS``)."""
    key = rng.randbytes(32)
    if item.kind == "image":
        width, height = rng.choice(((1600, 1200), (1200, 1600), (4032, 3024), (1080, 1920)))
        return (
            media_id,
            message_id,
            "image",
            rel,
            item.size,
            "image/jpeg",
            key,
            digest,
            None,
            width,
            height,
        )
    duration = item.size * 8 // 24  # ~24 kbit/s Opus voice
    return (
        media_id,
        message_id,
        "voice",
        rel,
        item.size,
        "audio/ogg; codecs=opus",
        key,
        digest,
        duration,
        None,
        None,
    )
