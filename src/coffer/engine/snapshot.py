"""Snapshot manifests: what a backup saw, as a tree of nodes with their blob lists.

The in-memory model of snapshots (format v1 and v2) and the v1 decoder. Format v2's byte layout
is in :mod:`coffer.engine.manifest` (the snapshot object) and :mod:`coffer.engine.tree` (the
tree, stored as blobs). A format-v1 snapshot object's plaintext is zstd-compressed JSON (then
sealed under the snapshot key with AD = object_ad("snapshots", "", repo_id), named by the
SHA-256 of the sealed bytes)::

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
- Names, symlink targets and paths are ``str`` decoded with surrogateescape (``os.fsdecode``):
  every byte string the file system gives maps to one ``str`` and back, losslessly.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Iterator, MutableSequence
from dataclasses import dataclass, field
from typing import Any, overload

from coffer.engine.errors import UnsafePath
from coffer.errors import IntegrityError

VERSION = 2  # the snapshot format this Coffer writes (v1 is read only)
BLOB_ID_LEN = 32


def check_component(name: str) -> str:
    """Return ``name`` if it is one safe path component, else raise :class:`UnsafePath`."""
    try:
        encoded = name.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate no file system name decodes to
        raise UnsafePath(f"unsafe name in snapshot: {name[:80]!r}") from None
    if not name or name in (".", "..") or "/" in name or "\x00" in name or len(encoded) > 255:
        raise UnsafePath(f"unsafe name in snapshot: {name[:80]!r}")
    return name


class BlobList(MutableSequence[bytes]):
    """A file's blob IDs in one buffer: 32 bytes an ID instead of a ~70-byte object each.

    A page-mode database is one blob per page, so a list of ``bytes`` would make a snapshot
    tree's memory grow by ~100 bytes per page; this is a ``MutableSequence[bytes]`` over a
    ``bytearray`` (decoding a tree hands over its content bytes without splitting them).
    """

    __slots__ = ("_buf",)

    def __init__(self, ids: Iterable[bytes] | bytes | bytearray = ()) -> None:
        if isinstance(ids, bytes | bytearray):
            if len(ids) % BLOB_ID_LEN:
                raise IntegrityError("a blob list is not a whole number of blob IDs")
            self._buf = bytearray(ids)
        else:
            self._buf = bytearray()
            for bid in ids:
                self.append(bid)

    def __len__(self) -> int:
        return len(self._buf) // BLOB_ID_LEN

    @overload
    def __getitem__(self, i: int) -> bytes: ...
    @overload
    def __getitem__(self, i: slice) -> BlobList: ...
    def __getitem__(self, i: int | slice) -> bytes | BlobList:
        if isinstance(i, slice):
            start, stop, step = i.indices(len(self))
            if step == 1:
                return BlobList(bytes(self._buf[start * BLOB_ID_LEN : stop * BLOB_ID_LEN]))
            return BlobList([self[j] for j in range(start, stop, step)])
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("blob list index out of range")
        return bytes(self._buf[i * BLOB_ID_LEN : (i + 1) * BLOB_ID_LEN])

    @overload
    def __setitem__(self, i: int, value: bytes) -> None: ...
    @overload
    def __setitem__(self, i: slice, value: Iterable[bytes]) -> None: ...
    def __setitem__(self, i: int | slice, value: bytes | Iterable[bytes]) -> None:
        items = list(self)
        if isinstance(i, slice):
            assert not isinstance(value, bytes)
            items[i] = list(value)
        else:
            assert isinstance(value, bytes)
            items[i] = value
        self._buf = BlobList(items)._buf

    def __delitem__(self, i: int | slice) -> None:
        items = list(self)
        del items[i]
        self._buf = BlobList(items)._buf

    def insert(self, index: int, value: bytes) -> None:
        items = list(self)
        items.insert(index, value)
        self._buf = BlobList(items)._buf

    def append(self, value: bytes) -> None:
        if len(value) != BLOB_ID_LEN:
            raise ValueError("a blob ID is 32 bytes")
        self._buf += value

    def extend(self, values: Iterable[bytes]) -> None:
        if isinstance(values, BlobList):
            self._buf += values._buf
        else:
            for v in values:
                self.append(v)

    def __iadd__(self, values: Iterable[bytes]) -> BlobList:
        self.extend(values)
        return self

    def __iter__(self) -> Iterator[bytes]:
        buf = bytes(self._buf)
        for start in range(0, len(buf), BLOB_ID_LEN):
            yield buf[start : start + BLOB_ID_LEN]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, BlobList):
            return self._buf == other._buf
        if isinstance(other, list | tuple):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"BlobList({len(self)} IDs)"

    def joined(self) -> bytes:
        """All IDs concatenated (the tree stream's ``content`` field)."""
        return bytes(self._buf)


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
    content: MutableSequence[bytes] = field(default_factory=BlobList)
    target: str = ""
    children: list[Node] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

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
            node.content = BlobList(raw)
        elif node.type == "symlink":
            node.target = str(d["target"])
        elif node.type == "dir":
            node.children = [cls.from_json(c) for c in d.get("children", [])]
        else:
            raise IntegrityError(f"unknown node type {node.type!r}")
        return node


class Snapshot:
    """A decoded snapshot: its header fields, and its tree (loaded on first use).

    In format v2 the tree lives in blobs (:mod:`coffer.engine.tree`); a snapshot read from the
    repository gets a ``loader`` that fetches and decodes them the first time :attr:`tree` is
    read, so listing snapshots never downloads a tree. Assigning :attr:`tree` marks the stored
    tree blobs stale: :meth:`~coffer.engine.repository.Repository.save_snapshot` stores it anew.
    """

    def __init__(
        self,
        time: str,
        hostname: str,
        username: str,
        paths: list[str],
        tree: list[Node] | None = None,
        parent: str | None = None,
        tags: list[str] | None = None,
        skipped: list[dict[str, str]] | None = None,
        summary: dict[str, Any] | None = None,
        id: str = "",
        *,
        writer: str = "",
        seq: int = 0,
        seen: dict[str, int] | None = None,
        tree_blobs: list[bytes] | None = None,
        tree_bytes: int = 0,
        version: int = VERSION,
        loader: Callable[[Snapshot], list[Node]] | None = None,
    ) -> None:
        self.time = time
        self.hostname = hostname
        self.username = username
        self.paths = paths
        self.parent = parent
        self.tags = tags if tags is not None else []
        self.skipped = skipped if skipped is not None else []
        self.summary = summary if summary is not None else {}
        self.id = id
        self.writer = writer  # 32 hex: the writing device's ID for this repository ("" in v1)
        self.seq = seq  # that writer's counter: strictly increasing over its objects (0 in v1)
        self.seen = seen if seen is not None else {}  # writer → newest seq the writer knew
        self.tree_blobs = tree_blobs if tree_blobs is not None else []
        self.tree_bytes = tree_bytes
        self.version = version
        self._loader = loader
        self._tree = tree
        if tree is None and loader is None:
            self._tree = []

    def __repr__(self) -> str:
        return f"Snapshot(id={self.id[:8]!r}, time={self.time!r}, hostname={self.hostname!r})"

    @property
    def tree(self) -> list[Node]:
        if self._tree is None:
            assert self._loader is not None
            self._tree = self._loader(self)
        return self._tree

    @tree.setter
    def tree(self, nodes: list[Node]) -> None:
        self._tree = nodes
        self.tree_blobs, self.tree_bytes = [], 0  # stale: stored again by save_snapshot

    @property
    def tree_loaded(self) -> bool:
        return self._tree is not None

    @classmethod
    def from_v1_json(cls, raw: bytes, snapshot_id: str) -> Snapshot:
        """Decode a format-v1 snapshot (JSON, tree inline); format v1 is read, never written."""
        try:
            doc = json.loads(raw)
            if doc.get("version") != 1:
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
                version=1,
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise IntegrityError(f"snapshot {snapshot_id[:8]} is malformed ({exc})") from None


@dataclass
class RemovedSnapshot:
    """One snapshot an owner's ``forget`` removed, as its forget record lists it."""

    id: str
    writer: str = ""
    seq: int = 0
    time: str = ""


@dataclass
class ForgetRecord:
    """Format v2: the owner's authenticated statement that snapshots were removed on purpose.

    Stored sealed in ``snapshots/`` beside the snapshots (so every backend, rest-server
    included, carries it). It has a writer and a counter like a snapshot, so hiding it is
    detected like hiding a snapshot; ``supersedes`` lets a later record replace older ones
    (readers ignore superseded records, as with index objects).
    """

    time: str
    hostname: str
    writer: str
    seq: int
    removed: list[RemovedSnapshot] = field(default_factory=list)
    seen: dict[str, int] = field(default_factory=dict)
    supersedes: list[str] = field(default_factory=list)
    id: str = ""


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
