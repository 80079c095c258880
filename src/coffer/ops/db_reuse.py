"""Logical dumps that reuse the previous snapshot: finding its map, assembling the new node.

Rules:
- A database node in logical mode, stream version 2, ends with its *segment map*
  (:class:`~coffer.sqlite.segments.DbMap`, an ``M`` record after the stream's end, which the
  rebuild skips); ``extra["map_blobs"]`` says how many of the node's last blobs hold it. The
  map is the only thing a backup downloads from the previous snapshot — a few bytes per
  segment of 64 leaf pages.
- The previous node is used only if it is a version-2 logical node at the same relative path
  of the parent snapshot and every one of its blobs is in the index; otherwise, or if its map
  cannot be read (a damaged or missing blob is reported as a warning), the dump starts afresh.
- :func:`assemble` builds the new node's content from the dump's manifest, piece by piece:
  glue and new segments are cut with FastCDC on their own (a segment's first and last bytes
  are cut points, so its blobs can be taken over alone next time), reused segments get the
  previous node's blob IDs for them, unread. Then the new map, with each segment's blob range.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from coffer.backends.base import BackendError, ObjectType
from coffer.engine.chunker import Chunker
from coffer.engine.snapshot import Node
from coffer.errors import IntegrityError
from coffer.sqlite.codec import varint
from coffer.sqlite.dump import FORMAT_VERSION, TAG_MAP
from coffer.sqlite.proc import Manifest
from coffer.sqlite.segments import DbMap

if TYPE_CHECKING:
    from coffer.ops.backup import BackupRun


@dataclass
class Previous:
    node: Node
    map: bytes


class PreviousDumps:
    """The parent snapshot's logical nodes and their maps, looked up by source path."""

    def __init__(self, run: BackupRun) -> None:
        self.run = run
        self._cache: dict[str, Previous | None] = {}

    def _rel(self, path: Path) -> str | None:
        for root, name in self.run.roots:
            if path == root:
                return name
            try:
                return f"{name}/{path.relative_to(root).as_posix()}"
            except ValueError:
                continue
        return None

    def find(self, path: Path) -> Previous | None:
        rel = self._rel(Path(path))
        if rel is None:
            return None
        if rel not in self._cache:
            self._cache[rel] = self._load(rel)
        return self._cache[rel]

    def _load(self, rel: str) -> Previous | None:
        old = self.run.parent_files.get(rel)
        if old is None or old.format != "sqlite-logical" or old.extra.get("stream") != 2:
            return None
        count = int(old.extra.get("map_blobs", 0))
        if not 0 < count <= len(old.content):
            return None
        if not all(self.run.uploader.has(b) for b in old.content):
            return None
        try:
            data = b"".join(self._blob(b) for b in old.content[-count:])
        except (IntegrityError, BackendError) as exc:
            self.run.progress.warn(f"{rel}: previous segment map unreadable ({exc}); full dump")
            return None
        payload = _map_payload(data)
        return Previous(old, payload) if payload is not None else None

    def _blob(self, blob_id: bytes) -> bytes:
        repo = self.run.repo
        loc = repo.index.get(blob_id)
        if loc is None:
            raise IntegrityError(f"blob {blob_id.hex()[:16]} is not in the index")
        sealed = repo.backend.load(ObjectType.DATA, loc.pack_id, loc.offset, loc.length)
        return repo.open_blob(blob_id, loc, sealed)


def _map_payload(data: bytes) -> bytes | None:
    """The payload of one ``M`` record that is all of ``data``."""
    if not data or data[0] != TAG_MAP:
        return None
    length = pos = shift = 0
    for pos in range(1, min(len(data), 11)):
        length |= (data[pos] & 0x7F) << shift
        shift += 7
        if data[pos] < 0x80:
            break
    start = pos + 1
    return data[start:] if len(data) - start == length else None


class _Limited(io.RawIOBase):
    """The next ``remaining`` bytes of ``stream`` as a readable file."""

    def __init__(self, stream: BinaryIO, remaining: int) -> None:
        super().__init__()
        self._stream = stream
        self._left = remaining

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._left <= 0:
            return 0
        view = memoryview(buffer)[: self._left]
        n = self._stream.readinto(view)  # type: ignore[attr-defined]
        if not n:
            raise IntegrityError("the dump's spool file is shorter than its manifest")
        self._left -= n
        return int(n)


def assemble(run: BackupRun, chunker: Chunker, node: Node, stream: BinaryIO,
             manifest: Manifest, old_content: Sequence[bytes]) -> None:  # fmt: skip
    """Fill ``node`` from a finished segmented dump (see the module rules)."""
    new_map = DbMap.decode(manifest.map) if manifest.map is not None else None
    total = 0
    for length, sec, number, reused in manifest.pieces:
        seg = _seg(new_map, sec, number)
        start = len(node.content)
        if reused:
            if seg is None or seg.start + seg.blobs > len(old_content):
                raise IntegrityError("the dump reused a segment the previous node lacks")
            node.content += old_content[seg.start : seg.start + seg.blobs]
            total += seg.nbytes
            run.progress.advance(seg.nbytes)
        else:
            for chunk in chunker.chunks(cast(BinaryIO, _Limited(stream, length))):
                run.add_chunk(chunk, node, try_compress=True)
            total += length
        if seg is not None:
            seg.start, seg.blobs = start, len(node.content) - start
    node.extra = {"stream": FORMAT_VERSION, "stream_bytes": total,
                  "reused_rows": manifest.reused_rows}  # fmt: skip
    if new_map is not None:
        payload = new_map.encode()
        record = bytes((TAG_MAP,)) + varint(len(payload)) + payload
        start = len(node.content)
        for chunk in chunker.chunks(io.BytesIO(record)):
            run.add_chunk(chunk, node, try_compress=True)
        node.extra["map_blobs"] = len(node.content) - start


def _seg(new_map: DbMap | None, sec: int, number: int) -> Any:
    if new_map is None or not 0 <= sec < len(new_map.sections):
        return None
    segs = new_map.sections[sec].segs
    return segs[number] if 0 <= number < len(segs) else None
