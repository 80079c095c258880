"""``backup --dry-run``: the whole backup, with every write to storage dropped.

Rules:
- A dry run reads, chunks, deduplicates, compresses and seals exactly as a backup does, so the
  figures it reports (new files, new bytes, bytes that would be stored) are the real ones; but
  nothing reaches storage — no pack, no index, no lock, no snapshot — and the snapshot is never
  stamped, so no writer counter moves (:mod:`coffer.ops.backup` skips ``save_snapshot``).
- The dry run works on a :func:`view` of the repository with its own copy of the in-memory
  index: blobs it "stores" never make the caller's index claim packs that do not exist.
"""

from __future__ import annotations

import copy

from coffer.backends.base import Backend, ObjectType
from coffer.backends.wrapper import Wrapper
from coffer.engine.index import Index
from coffer.engine.repository import Repository


class DiscardWrites(Wrapper):
    """Reads go to the inner backend; ``save`` and ``remove`` are counted and dropped."""

    def __init__(self, inner: Backend) -> None:
        super().__init__(inner)
        self.saved: dict[ObjectType, int] = {}
        self.saved_bytes = 0

    def save(self, kind: ObjectType, name: str, data: bytes, *, overwrite: bool = False) -> None:
        self.saved[kind] = self.saved.get(kind, 0) + 1
        self.saved_bytes += len(data)

    def remove(self, kind: ObjectType, name: str) -> None:
        return None

    def close(self) -> None:
        return None  # the caller's repository still owns the inner backend


def view(repo: Repository) -> Repository:
    """A copy of ``repo`` that writes nothing and has an index of its own."""
    dry = copy.copy(repo)
    dry.backend = DiscardWrites(repo.backend)
    dry.index = Index()
    dry.index.merge(repo.index)
    dry.index_ids = set(repo.index_ids)
    return dry
