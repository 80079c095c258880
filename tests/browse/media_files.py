"""Real, small media files for the fixtures: JPEG/PNG images (Pillow), WAV voice notes and a
WebM video.

There is no Opus encoder on this machine, so voice notes are 16-bit PCM WAV (browsers play it);
the server picks the type from the bytes, so a ``.opus`` or ``.ogg`` name does not matter.
There is no video encoder either: ``clip.webm`` beside this file (2 KB, 64×48 VP8, 20 coloured
frames over 2 s) was recorded once by Debian's Chromium with ``MediaRecorder`` from a canvas's
``captureStream(10)`` (``video/webm;codecs=vp8``, 50 kbit/s) and is kept as it came out.
"""

from __future__ import annotations

import io
import math
import struct
import wave
from pathlib import Path

from PIL import Image, ImageDraw


def jpeg(width: int = 320, height: int = 240, hue: int = 0, label: str = "") -> bytes:
    img = Image.new("RGB", (width, height), (40 + hue % 180, 90, 160 - hue % 120))
    draw = ImageDraw.Draw(img)
    for i in range(0, width, 20):
        draw.line([(i, 0), (width - i, height)], fill=(250, 220, 120), width=2)
    draw.ellipse([width // 4, height // 4, 3 * width // 4, 3 * height // 4], fill=(240, 240, 235))
    if label:
        draw.text((10, 10), label, fill=(20, 20, 20))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=80)
    return out.getvalue()


def png(width: int = 64, height: int = 64) -> bytes:
    img = Image.new("RGB", (width, height), (200, 60, 60))
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def wav(seconds: float = 3.0, freq: float = 440.0, rate: int = 8000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        frames = b"".join(
            struct.pack("<h", int(8000 * math.sin(2 * math.pi * freq * i / rate)))
            for i in range(int(seconds * rate))
        )
        w.writeframes(frames)
    return out.getvalue()


def webm() -> bytes:
    """A real 2-second WebM (VP8) that Chromium plays (see the module docstring)."""
    return (Path(__file__).parent / "clip.webm").read_bytes()
