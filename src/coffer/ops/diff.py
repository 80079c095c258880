"""Diff: what changed between two snapshots, path by path.

Rules:
- Paths are compared as the snapshots record them (relative to the snapshot root, ``/``
  separated). A path is *added* if only the second snapshot has it, *removed* if only the
  first has it, *modified* if both have it and its type, content (the blob list), size, mode
  or symlink target differ. An mtime-only change is *modified* too, flagged ``metadata_only``.
- Directories are listed when added or removed; a directory whose children changed is not
  itself "modified" unless its own mode changed.
- Only snapshot manifests are read: no pack is downloaded, so diff is cheap on remote storage.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from coffer.engine.snapshot import Node, Snapshot, walk


@dataclass(frozen=True)
class Change:
    path: str
    kind: str  # "added" | "removed" | "modified"
    type: str
    size_before: int
    size_after: int
    metadata_only: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "change": self.kind,
            "type": self.type,
            "size_before": self.size_before,
            "size_after": self.size_after,
            "metadata_only": self.metadata_only,
        }


@dataclass
class DiffResult:
    changes: list[Change] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(1 for c in self.changes if c.kind == kind)

    @property
    def bytes_added(self) -> int:
        return sum(max(c.size_after - c.size_before, 0) for c in self.changes)

    @property
    def bytes_removed(self) -> int:
        return sum(max(c.size_before - c.size_after, 0) for c in self.changes)


def _size(node: Node) -> int:
    return node.size if node.type == "file" else 0


def _compare(a: Node, b: Node) -> tuple[bool, bool]:
    """Return ``(changed, metadata_only)``."""
    if a.type != b.type:
        return True, False
    if a.type == "dir":
        return a.mode != b.mode, True
    same_data = (a.content, a.size, a.target, a.mode) == (b.content, b.size, b.target, b.mode)
    if not same_data:
        return True, False
    return a.mtime_ns != b.mtime_ns, True


def diff(first: Snapshot, second: Snapshot) -> DiffResult:
    """Changes that turn ``first`` into ``second``, sorted by path."""
    before = dict(walk(first.tree))
    after = dict(walk(second.tree))
    result = DiffResult()
    for path in sorted(before.keys() | after.keys()):
        a, b = before.get(path), after.get(path)
        if a is None and b is not None:
            result.changes.append(Change(path, "added", b.type, 0, _size(b)))
        elif b is None and a is not None:
            result.changes.append(Change(path, "removed", a.type, _size(a), 0))
        elif a is not None and b is not None:
            changed, meta = _compare(a, b)
            if changed:
                result.changes.append(Change(path, "modified", b.type, _size(a), _size(b), meta))
    return result
