"""The database part of a backup: how a SQLite source found by the walk becomes a file node.

Rules:
- In logical mode (the repository default, or ``--db-mode logical``) the dump of a database runs
  in a child process (:mod:`coffer.sqlite.spool`); the first :data:`EARLY_DUMPS` databases start
  before the walk, so their dumps run beside the media folder's upload. The node is filled in by
  :meth:`DatabaseStore.store_deferred`, after the walk, in its place in the tree.
- A database the logical mode cannot carry (:class:`~coffer.sqlite.logical.UnsupportedDatabase`)
  falls back to page mode with a warning; one SQLite cannot read at all is stored as plain bytes.
- Page mode stores the online-backup copy (one read transaction) in page-aligned chunks.

Theory: :class:`DatabaseStore` owns everything database-specific so that
:class:`~coffer.ops.backup.BackupRun` stays the walk, the files and the snapshot; both share the
run's uploader and statistics through the ``run`` they are given.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from coffer.engine.chunker import DB_STREAM_PARAMS, Chunker, page_chunks
from coffer.engine.snapshot import Node
from coffer.ops.db_reuse import PreviousDumps, assemble
from coffer.sqlite.capture import consistent_copy, is_sqlite_header
from coffer.sqlite.logical import UnsupportedDatabase
from coffer.sqlite.spool import SpooledDump, SpoolQueue

if TYPE_CHECKING:
    from coffer.ops.backup import BackupRun, SourceStats

EARLY_DUMPS = 4  # databases whose dump starts before the walk (each holds a temp file open)


def is_database(path: str) -> bool:
    """True if the file at ``path`` starts with SQLite's header."""
    try:
        with open(path, "rb") as fh:
            return is_sqlite_header(fh.read(16))
    except OSError:
        return False


class DatabaseStore:
    """Stores the SQLite sources of one backup run, in the run's database mode."""

    def __init__(self, run: BackupRun) -> None:
        self.run = run
        self.chunker = Chunker(run.repo.keys.chunker, DB_STREAM_PARAMS)
        self.spools = SpoolQueue(run.opts.tmpdir)
        self._deferred: list[tuple[Path, Node, SpooledDump, SourceStats | None]] = []
        self._early: dict[str, SpooledDump] = {}
        self.previous = PreviousDumps(run)

    @property
    def mode(self) -> str:
        return self.run.opts.db_mode or self.run.repo.params.db_mode

    def start_early(self, files: Iterable[str]) -> None:
        """Start the first databases' dumps now, to run beside the walk."""
        if self.mode != "logical":
            return
        for name in files:
            if len(self._early) >= EARLY_DUMPS:
                break
            if is_database(name):
                self._early[name] = self._spool(Path(name))

    def _spool(self, path: Path) -> SpooledDump:
        previous = self.previous.find(path)
        return self.spools.start(path, previous.map if previous else None)

    def store(self, path: Path, node: Node, source: SourceStats | None) -> None:
        """Store the database at ``path`` into ``node`` (logical mode: later, see module doc)."""
        if self.mode == "logical":
            node.format = "sqlite-logical"
            node.extra = {}
            dump = self._early.pop(str(path), None) or self._spool(path)
            self._deferred.append((path, node, dump, source))
        else:
            self.store_pages(path, node)

    def store_pages(self, path: Path, node: Node) -> None:
        with consistent_copy(path, self.run.opts.tmpdir) as (copy, page_size):
            node.format = "sqlite-pages"
            node.extra = {"page_size": page_size}
            size = 0
            with open(copy, "rb") as fh:
                for block in page_chunks(fh, page_size):
                    size += len(block)
                    self.run.add_chunk(block, node, try_compress=True)
            node.size = size

    def store_deferred(self) -> None:
        """Chunk and store the finished logical dumps, in the order the walk met them."""
        deferred, self._deferred = self._deferred, []
        for path, node, dump, source in deferred:
            with self.run.measure(source):
                try:
                    stream = dump.stream()
                except UnsupportedDatabase as exc:
                    self._fall_back(path, node, exc)
                    continue
                assert dump.manifest is not None
                previous = self.previous.find(path)
                old_content = previous.node.content if previous else []
                assemble(self.run, self.chunker, node, stream, dump.manifest, old_content)
                stream.close()

    def _fall_back(self, path: Path, node: Node, exc: UnsupportedDatabase) -> None:
        self.run.progress.warn(f"{path}: logical mode impossible ({exc}); using page mode")
        node.content = []
        try:
            self.store_pages(path, node)
        except sqlite3.Error as err:
            with open(path, "rb") as fh:
                self.run.store_as_bytes(path, fh, node, err)

    def close(self) -> None:
        self.spools.close()
