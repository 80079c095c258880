"""``dump``: one entry of a snapshot as a byte stream — a file's contents, or a folder as tar.

Rules:
- Only authenticated plaintext is written: every blob is verified as restore verifies it
  (:meth:`~coffer.ops.restore.Restorer.blobs`); a damaged blob raises
  :class:`~coffer.errors.IntegrityError` and the stream stops there (the caller exits non-zero,
  so a partial stream is never mistaken for a whole one).
- A file stored as bytes (``file``, ``sqlite-pages``) streams blob by blob, in bounded memory;
  its length is known before the first byte from the index, so a tar header is never wrong.
  A database stored in logical mode is first rebuilt, as restore does, into a private 0700
  temporary folder (removed afterwards) and then streamed.
- A folder becomes a POSIX (pax) tar: folders, files and symlinks with their modes and mtimes,
  byte-exact names (non-UTF-8 names use pax ``hdrcharset=BINARY``). Entry names start with the
  dumped folder's own name (``dump latest chat-store/media`` gives ``media/…``); the whole
  snapshot (path ``/``) gives its sources' top folders.
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from coffer.engine.progress import Progress
from coffer.engine.repository import Repository
from coffer.engine.snapshot import Node
from coffer.errors import IntegrityError
from coffer.ops.restore import Restorer
from coffer.sqlite.proc import ProcessRestore

COPY = 1 << 20


class _Chunks(io.RawIOBase):
    """A readable stream over an iterator of byte chunks (tarfile reads it in pieces)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._left = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buf: memoryview) -> int:  # type: ignore[override]
        while not self._left:
            nxt = next(self._chunks, None)
            if nxt is None:
                return 0
            self._left = nxt
        n = min(len(buf), len(self._left))
        buf[:n] = self._left[:n]
        self._left = self._left[n:]
        return n


class Dumper:
    """Writes snapshot entries of one repository to a binary stream."""

    def __init__(self, repo: Repository, progress: Progress | None = None) -> None:
        self.repo = repo
        self._reader = Restorer(repo, progress or Progress(), strict=True)

    def stored_length(self, node: Node) -> int:
        """The exact length of a byte-stored file, from its blobs' index entries."""
        total = 0
        for bid in node.content:
            loc = self.repo.index.get(bid)
            if loc is None:
                raise IntegrityError(f"blob {bid.hex()[:16]} of {node.name!r} is not in the index")
            total += loc.raw_length
        return total

    def file(self, node: Node, out: BinaryIO) -> int:
        """Write a file's contents; return the number of bytes written."""
        with self._opened(node) as (stream, _size):
            return _copy(stream, out)

    def tar(self, nodes: list[Node], prefix: str, out: BinaryIO) -> int:
        """Write ``nodes`` (and everything below them) as a tar stream; return the entry count."""
        count = 0
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as archive:
            for path, node in _walk(nodes, prefix):
                self._add(archive, path, node)
                count += 1
        return count

    def _add(self, archive: tarfile.TarFile, path: str, node: Node) -> None:
        info = tarfile.TarInfo(path)
        info.mode, info.mtime = node.mode & 0o7777, node.mtime_ns / 1e9
        if node.type == "dir":
            info.type = tarfile.DIRTYPE
            archive.addfile(info)
        elif node.type == "symlink":
            info.type, info.linkname = tarfile.SYMTYPE, node.target
            archive.addfile(info)
        else:
            with self._opened(node) as (stream, size):
                info.size = size
                archive.addfile(info, stream)

    def _opened(self, node: Node) -> _Opened:
        return _Opened(self, node)

    def blobs(self, node: Node) -> Iterator[bytes]:
        return self._reader.blobs(node)


class _Opened:
    """``with``: a readable stream of a file's plaintext and its exact length."""

    def __init__(self, dumper: Dumper, node: Node) -> None:
        self.dumper, self.node = dumper, node
        self._tmp: str | None = None
        self._fh: BinaryIO | None = None

    def __enter__(self) -> tuple[BinaryIO, int]:
        node = self.node
        if node.format != "sqlite-logical":
            size = self.dumper.stored_length(node)
            return io.BufferedReader(_Chunks(self.dumper.blobs(node)), COPY), size
        self._tmp = tempfile.mkdtemp(prefix="coffer-dump-")
        db = Path(self._tmp) / "db"
        child = ProcessRestore(db, full_check=False)
        try:
            for plain in self.dumper.blobs(node):
                child.write(plain)
            child.finish()
        finally:
            child.close()
        self._fh = open(db, "rb")
        return self._fh, os.fstat(self._fh.fileno()).st_size

    def __exit__(self, *exc: object) -> None:
        if self._fh is not None:
            self._fh.close()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)


def _walk(nodes: list[Node], prefix: str) -> Iterator[tuple[str, Node]]:
    for node in nodes:
        path = f"{prefix}{node.name}"
        yield path, node
        if node.type == "dir":
            yield from _walk(node.children, path + "/")


def _copy(src: BinaryIO, out: BinaryIO) -> int:
    written = 0
    while chunk := src.read(COPY):
        out.write(chunk)
        written += len(chunk)
    return written
