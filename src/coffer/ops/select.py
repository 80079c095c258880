"""Which part of a snapshot a user means: paths as ``ls`` and ``snapshots`` print them.

Rules:
- Inside a snapshot, a path is the source's top name followed by the components below it:
  ``chat-store/msgstore.db`` (what ``ls`` prints). A leading or trailing ``/`` is ignored.
- A source's absolute path as ``snapshots`` prints it (``/home/me/chat-store``) and anything
  below it (``/home/me/chat-store/msgstore.db``) names the same entry.
- :func:`select` keeps the snapshot's layout: the result is the tree cut down to the chosen
  entries and the folders above them, so a restore of ``chat-store/msgstore.db`` writes
  ``TARGET/chat-store/msgstore.db`` exactly as a full restore would.
"""

from __future__ import annotations

import copy
from pathlib import PurePosixPath

from coffer.engine.errors import PathNotInSnapshot
from coffer.engine.snapshot import Node, Snapshot


def top_name(source: str) -> str:
    """The name a backup gives a source at the top of the tree (``/`` is ``root``)."""
    return PurePosixPath(source).name or "root"


def candidates(snap: Snapshot, text: str) -> list[str]:
    """The in-snapshot paths ``text`` may mean, most literal first."""
    out = [text.strip("/")]
    for source in snap.paths:
        src = source.rstrip("/") or "/"
        if text.rstrip("/") == src or text.startswith(src.rstrip("/") + "/"):
            rest = text.rstrip("/")[len(src.rstrip("/")) :]
            out.append((top_name(source) + rest).strip("/"))
    return out


def _walk_to(nodes: list[Node], parts: list[str]) -> list[Node] | None:
    """The chain of nodes from the top down to ``parts``, or None."""
    chain: list[Node] = []
    level = nodes
    for part in parts:
        found = next((n for n in level if n.name == part), None)
        if found is None:
            return None
        chain.append(found)
        level = found.children
    return chain


def resolve(snap: Snapshot, texts: list[str]) -> list[str]:
    """Each user path as an in-snapshot path; :class:`PathNotInSnapshot` names a miss."""
    out = []
    for text in texts:
        for cand in candidates(snap, text):
            if cand and _walk_to(snap.tree, cand.split("/")) is not None:
                out.append(cand)
                break
        else:
            raise PathNotInSnapshot(f"'{text}' is not in snapshot {snap.id[:8]}")
    return out


def find_node(snap: Snapshot, rel: str) -> Node:
    chain = _walk_to(snap.tree, rel.split("/"))
    if not chain:
        raise PathNotInSnapshot(f"'{rel}' is not in snapshot {snap.id[:8]}")
    return chain[-1]


def select(snap: Snapshot, rels: list[str]) -> tuple[list[Node], set[int]]:
    """The tree reduced to the entries at ``rels`` and the folders leading to them.

    Returns the nodes and the ``id()`` of the folders that hold only part of their children (the
    ones above a selected entry): a restore's ``--delete`` must not empty those.
    """
    root: list[Node] = []
    partial: set[int] = set()
    for rel in rels:
        chain = _walk_to(snap.tree, rel.split("/"))
        if not chain:
            raise PathNotInSnapshot(f"'{rel}' is not in snapshot {snap.id[:8]}")
        level = root
        for depth, node in enumerate(chain):
            last = depth == len(chain) - 1
            have = next((n for n in level if n.name == node.name), None)
            if have is None:
                have = copy.copy(node)
                have.children = []
                level.append(have)
                partial.add(id(have))
            if last and id(have) in partial:
                have.children = list(node.children)
                partial.discard(id(have))
            level = have.children
    return root, partial
