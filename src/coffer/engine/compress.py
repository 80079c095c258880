"""Compression only where it pays.

Rules:
- Already-compressed media (JPEG, PNG, GIF, WebP, Ogg/Opus, MP4/MOV, MP3, zip/gzip/zstd/xz…) is
  recognised by its magic bytes and stored as is: compressing it costs time and saves nothing.
- Everything else is tried with zstd; the result is kept only when it saves at least 1/16 of the
  chunk, so incompressible data never grows and decompression is skipped on restore.
- The compression flag travels in the pack header next to the blob, authenticated with it.
"""

from __future__ import annotations

import enum
import threading

import zstandard

LEVEL = 3
_MAGICS: tuple[bytes, ...] = (
    b"\xff\xd8\xff",  # JPEG
    b"\x89PNG\r\n\x1a\n",
    b"GIF8",
    b"OggS",  # Ogg (Opus, Vorbis)
    b"ID3",  # MP3 with ID3 tag
    b"\xff\xfb",  # MP3 frame
    b"PK\x03\x04",  # zip, docx, apk
    b"\x1f\x8b",  # gzip
    b"\x28\xb5\x2f\xfd",  # zstd
    b"\xfd7zXZ\x00",  # xz
    b"BZh",  # bzip2
    b"7z\xbc\xaf\x27\x1c",
    b"%PDF",
)
_FTYP_OFFSET = 4  # MP4/MOV/HEIC/3GP: "ftyp" at byte 4
_RIFF_WEBP = (b"RIFF", b"WEBP")


class Compression(enum.IntEnum):
    """Per-blob compression, stored in the pack header."""

    NONE = 0
    ZSTD = 1


def looks_compressed(head: bytes | memoryview) -> bool:
    """True when the first bytes of a file mark a compressed media or archive format."""
    head = bytes(head[:16])
    if head.startswith(_MAGICS):
        return True
    if head[_FTYP_OFFSET : _FTYP_OFFSET + 4] == b"ftyp":
        return True
    return head[:4] == _RIFF_WEBP[0] and head[8:12] == _RIFF_WEBP[1]


_local = threading.local()


def _compressor() -> zstandard.ZstdCompressor:
    comp = getattr(_local, "comp", None)
    if comp is None:
        comp = zstandard.ZstdCompressor(level=LEVEL)
        _local.comp = comp
    return comp


def _decompressor() -> zstandard.ZstdDecompressor:
    dec = getattr(_local, "dec", None)
    if dec is None:
        dec = zstandard.ZstdDecompressor()
        _local.dec = dec
    return dec


def maybe_compress(data: bytes | memoryview, *, try_it: bool) -> tuple[Compression, bytes]:
    """Return ``(method, payload)``: zstd output when it saves ≥ 1/16, else the input."""
    if try_it and len(data) >= 128:
        packed = _compressor().compress(data)
        if len(packed) <= len(data) - len(data) // 16:
            return Compression.ZSTD, packed
    return Compression.NONE, bytes(data)


def decompress(method: int, payload: bytes, raw_length: int) -> bytes:
    """Invert :func:`maybe_compress`; raise ``ValueError`` on a malformed payload."""
    if method == Compression.NONE:
        return payload
    if method == Compression.ZSTD:
        try:
            out = _decompressor().decompress(payload, max_output_size=raw_length)
        except zstandard.ZstdError as exc:
            raise ValueError(f"zstd: {exc}") from None
        if len(out) != raw_length:
            raise ValueError("decompressed length mismatch")
        return out
    raise ValueError(f"unknown compression method {method}")
