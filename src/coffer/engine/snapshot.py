"""Snapshot manifests: what a backup saw, as a tree of nodes with their blob lists.

A snapshot object's plaintext is zstd-compressed JSON (then sealed under the snapshot key with
AD = object_ad("snapshots", "", repo_id), named by the SHA-256 of the sealed bytes)::

    {"version": 1, "time": ISO-8601 UTC, "hostname": ..., "username": ...,
     "paths": [absolute source paths], "parent": id | null, "tags": [...],
     "tree": [node, ...], "skipped": [{"path": ..., "error": ...}], "summary": {...}}
    node = {"name", "type": "dir" | "file" | "symlink", "mode", "mtime_ns", "size",
            "inode", "ctime_ns", "content": base64(blob_id ‖ blob_id ‖ …),   # files
            "format": "file" | "sqlite-pages" | "sqlite-logical",            # files
            "target": ...,                                                     # symlinks
            "children": [node, ...]}                                           # dirs

Rules:
- Node names are single path components; :func:`check_component` is the one place that decides
  what a safe name is, and both backup and restore call it.
- Snapshots are immutable; their name is the hash of their sealed bytes.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import zstandard

from coffer.engine.errors import UnsafePath
from coffer.errors import IntegrityError

VERSION = 1
BLOB_ID_LEN = 32


def check_component(name: str) -> str:
    """Return ``name`` if it is one safe path component, else raise :class:`UnsafePath`."""
    if (
        not name
        or name in (".", "..")
        or "/" in name
        or "\\" in name
        or "\x00" in name
        or len(name.encode("utf-8", "surrogateescape")) > 255
    ):
        raise UnsafePath(f"unsafe name in snapshot: {name[:80]!r}")
    return name


@dataclass
class Node:
    """One entry of a snapshot tree."""

    name: str
    type: str
    mode: int = 0o644
    mtime_ns: int = 0
    size: int = 0
    inode: int = 0
    ctime_ns: int = 0
    format: str = "file"
    content: list[bytes] = field(default_factory=list)
    target: str = ""
    children: list[Node] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "type": self.type, "mode": self.mode}
        d["mtime_ns"] = self.mtime_ns
        if self.type == "file":
            d.update(size=self.size, inode=self.inode, ctime_ns=self.ctime_ns, format=self.format)
            d["content"] = base64.b64encode(b"".join(self.content)).decode()
        elif self.type == "symlink":
            d["target"] = self.target
        elif self.type == "dir":
            d["children"] = [c.to_json() for c in self.children]
        if self.extra:
            d["extra"] = self.extra
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Node:
        node = cls(name=check_component(str(d["name"])), type=str(d["type"]), mode=int(d["mode"]))
        node.mtime_ns = int(d.get("mtime_ns", 0))
        node.extra = dict(d.get("extra", {}))
        if node.type == "file":
            node.size, node.inode = int(d["size"]), int(d.get("inode", 0))
            node.ctime_ns, node.format = int(d.get("ctime_ns", 0)), str(d.get("format", "file"))
            raw = base64.b64decode(d["content"], validate=True)
            if len(raw) % BLOB_ID_LEN:
                raise IntegrityError("snapshot node content is not a list of blob IDs")
            node.content = [raw[i : i + BLOB_ID_LEN] for i in range(0, len(raw), BLOB_ID_LEN)]
        elif node.type == "symlink":
            node.target = str(d["target"])
        elif node.type == "dir":
            node.children = [cls.from_json(c) for c in d.get("children", [])]
        else:
            raise IntegrityError(f"unknown node type {node.type!r}")
        return node


@dataclass
class Snapshot:
    """A decoded snapshot manifest."""

    time: str
    hostname: str
    username: str
    paths: list[str]
    tree: list[Node]
    parent: str | None = None
    tags: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    id: str = ""

    def to_bytes(self) -> bytes:
        doc = {
            "version": VERSION,
            "time": self.time,
            "hostname": self.hostname,
            "username": self.username,
            "paths": self.paths,
            "parent": self.parent,
            "tags": self.tags,
            "tree": [n.to_json() for n in self.tree],
            "skipped": self.skipped,
            "summary": self.summary,
        }
        raw = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
        return zstandard.ZstdCompressor(level=3).compress(raw)

    @classmethod
    def from_bytes(cls, data: bytes, snapshot_id: str) -> Snapshot:
        try:
            raw = zstandard.ZstdDecompressor().decompress(data, max_output_size=1 << 31)
            doc = json.loads(raw)
            if doc.get("version") != VERSION:
                raise IntegrityError(f"unsupported snapshot version {doc.get('version')!r}")
            return cls(
                time=str(doc["time"]),
                hostname=str(doc["hostname"]),
                username=str(doc.get("username", "")),
                paths=[str(p) for p in doc["paths"]],
                tree=[Node.from_json(n) for n in doc["tree"]],
                parent=doc.get("parent"),
                tags=[str(t) for t in doc.get("tags", [])],
                skipped=list(doc.get("skipped", [])),
                summary=dict(doc.get("summary", {})),
                id=snapshot_id,
            )
        except (zstandard.ZstdError, ValueError, KeyError, TypeError) as exc:
            raise IntegrityError(f"snapshot {snapshot_id[:8]} is malformed ({exc})") from None


def walk(nodes: list[Node], prefix: str = "") -> Iterator[tuple[str, Node]]:
    """Yield ``(relative_path, node)`` depth-first, parents before children."""
    for node in nodes:
        path = f"{prefix}{node.name}"
        yield path, node
        if node.type == "dir":
            yield from walk(node.children, path + "/")


def find(nodes: list[Node], path: str) -> Node | None:
    """Return the node at ``path`` (components separated by '/'), or None."""
    parts = [p for p in path.strip("/").split("/") if p]
    current: Node | None = None
    level = nodes
    for part in parts:
        current = next((n for n in level if n.name == part), None)
        if current is None:
            return None
        level = current.children
    return current
