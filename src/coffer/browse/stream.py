"""Reading a file of a snapshot by byte range, blob by blob, and choosing its Content-Type.

Rules:
- A file is the concatenation of its blobs; the offset of each blob comes from the index's
  ``raw_length`` of the blobs before it, so a range request reads only the blobs it overlaps
  (each authenticated by :meth:`~coffer.engine.repository.Repository.read_blob`).
- One ``bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` range is honoured; a malformed header is
  ignored (the whole file is sent, as RFC 9110 allows); an unsatisfiable one is
  :class:`RangeNotSatisfiable`.
- The Content-Type comes from the file's first bytes, matched against :data:`SIGNATURES`;
  everything else (HTML, SVG, scripts, unknown) is ``application/octet-stream`` and a download.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import accumulate

from coffer.engine.repository import Repository
from coffer.engine.snapshot import Node
from coffer.errors import IntegrityError

DOWNLOAD = "application/octet-stream"
# (offset, magic, type); checked in order. Only types a browser shows without running code.
SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (8, b"WEBP", "image/webp"),
    (0, b"OggS", "audio/ogg"),
    (8, b"WAVE", "audio/wav"),
    (0, b"ID3", "audio/mpeg"),
    (0, b"fLaC", "audio/flac"),
    (4, b"ftypM4A", "audio/mp4"),
    (4, b"ftyp", "video/mp4"),
    (0, b"\x1aE\xdf\xa3", "video/webm"),
    (0, b"%PDF-", "application/pdf"),
)
_RIFF = {"image/webp", "audio/wav"}
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class RangeNotSatisfiable(Exception):
    """The requested range starts beyond the end of the file (HTTP 416)."""


def sniff(head: bytes) -> str:
    for offset, magic, mime in SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            if mime in _RIFF and head[:4] != b"RIFF":
                continue
            return mime
    return DOWNLOAD


def inline(mime: str) -> bool:
    return mime.split("/", 1)[0] in ("image", "audio", "video")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(first, last)`` inclusive for a single byte range, or None for the whole file."""
    if not header:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None or (not match[1] and not match[2]):
        return None
    if not match[1]:
        length = int(match[2])
        if length == 0:
            raise RangeNotSatisfiable
        return max(0, size - length), size - 1
    first = int(match[1])
    last = int(match[2]) if match[2] else size - 1
    if first >= size:
        raise RangeNotSatisfiable
    if last < first:
        return None
    return first, min(last, size - 1)


@dataclass
class BlobFile:
    """A snapshot file's blobs with their offsets."""

    repo: Repository
    content: list[bytes]
    starts: list[int]
    size: int

    @classmethod
    def of(cls, repo: Repository, node: Node) -> BlobFile:
        lengths = []
        for bid in node.content:
            loc = repo.index.get(bid)
            if loc is None:
                raise IntegrityError(f"blob {bid.hex()[:16]} is not in the index")
            lengths.append(loc.raw_length)
        starts = [0, *accumulate(lengths)]
        return cls(repo, list(node.content), starts[:-1], starts[-1])

    def head(self, n: int = 64) -> bytes:
        out = b""
        for chunk in self.read(0, min(n, self.size) - 1) if self.size else ():
            out += chunk
        return out

    def read(self, first: int, last: int) -> Iterator[bytes]:
        """The bytes ``first..last`` (inclusive), one authenticated blob at a time."""
        i = bisect.bisect_right(self.starts, first) - 1
        while i < len(self.content) and self.starts[i] <= last:
            plain = self.repo.read_blob(self.content[i])
            lo = max(first - self.starts[i], 0)
            hi = min(last - self.starts[i] + 1, len(plain))
            yield plain[lo:hi]
            i += 1
