"""``find``: entries whose name (or path) matches a pattern, in a snapshot's tree.

Rules (restic's ``find``):
- A pattern without ``/`` is matched against each entry's *name*: ``*.jpg``, ``msgstore.db``.
- A pattern with ``/`` is matched against the entry's whole path inside the snapshot
  (``chat-store/media/*.jpg``), with the exclude rules of :mod:`coffer.ops.exclude`: a leading
  ``/`` anchors it at the top of the snapshot, ``**`` spans any number of folders.
- Pattern syntax is Go's ``filepath.Match`` (``*``, ``?``, ``[…]``, ``\\``); ``fold_case`` makes
  the match case-insensitive.
- Folders, files and symlinks all count; entries come in tree order (parents first).

Sans-I/O: works on an already-loaded tree.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from coffer.engine.snapshot import Node, walk
from coffer.ops.exclude import Pattern


@dataclass(frozen=True)
class Finder:
    """Compiled patterns; :meth:`matches` yields the hits of one tree."""

    names: tuple[Pattern, ...]
    paths: tuple[Pattern, ...]

    @classmethod
    def compile(cls, patterns: Iterable[str], *, fold_case: bool = False) -> Finder:
        names: list[Pattern] = []
        paths: list[Pattern] = []
        for text in patterns:
            compiled = Pattern.compile(text, fold_case=fold_case)
            (paths if "/" in text.strip("/") or text.startswith("/") else names).append(compiled)
        return cls(tuple(names), tuple(paths))

    def hit(self, path: str, node: Node) -> bool:
        """Whether the entry at ``path`` matches one of the patterns."""
        if any(p.matches([_fold(node.name, p)]) for p in self.names):
            return True
        return any(p.matches([_fold(c, p) for c in path.split("/")]) for p in self.paths)

    def matches(self, tree: list[Node]) -> Iterator[tuple[str, Node]]:
        for path, node in walk(tree):
            if self.hit(path, node):
                yield path, node


def _fold(text: str, pattern: Pattern) -> str:
    return text.casefold() if pattern.fold_case else text
