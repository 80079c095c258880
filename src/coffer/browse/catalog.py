"""What a repository offers the browser: snapshots, and for each the databases it holds.

Rules:
- A snapshot's *sources* are its SQLite files (logical or page mode, or stored as bytes with a
  SQLite header) and the exports an adapter converts (Telegram's ``result.json``); each is
  rebuilt once into the workspace and given to the first adapter that recognises it.
- A source is named by a slug derived from its path in the snapshot, so the same database in
  another snapshot has the same URL (switching snapshot keeps your place).
- A rebuilt file is shared by every snapshot whose copy has the same blob list, so browsing two
  snapshots in which a database did not change rebuilds it once.
- Media paths the app stored are resolved against the snapshot's files
  (:func:`resolve_media`), never against the local file system.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from coffer.browse.adapters import REGISTRY as ADAPTERS
from coffer.browse.adapters import Adapter, ChatAdapter, adapter_for
from coffer.browse.adapters.base import NotMine
from coffer.browse.db import Database
from coffer.browse.errors import NotFound
from coffer.browse.search import SearchIndex
from coffer.browse.workspace import Workspace
from coffer.engine.progress import Progress
from coffer.engine.repository import Repository
from coffer.engine.snapshot import Node, Snapshot, walk
from coffer.errors import CofferError
from coffer.ops.restore import Restorer
from coffer.sqlite.proc import ProcessRestore

SQLITE_HEADER = b"SQLite format 3\x00"
COMPANIONS = ("-wal", "-shm", "-journal")


@dataclass(frozen=True)
class SnapInfo:
    id: str
    time: str
    hostname: str
    paths: tuple[str, ...]
    added: int  # bytes this snapshot added to the repository (its summary's bytes_new)
    files: int

    @property
    def short(self) -> str:
        return self.id[:8]


@dataclass
class Source:
    slug: str
    path: str
    adapter: Adapter
    base: str
    search: SearchIndex | None

    @property
    def label(self) -> str:
        return self.adapter.label

    @property
    def chats(self) -> ChatAdapter:
        assert isinstance(self.adapter, ChatAdapter)
        return self.adapter


@dataclass
class SnapshotView:
    info: SnapInfo
    snap: Snapshot
    files: dict[str, Node]
    sources: list[Source] = field(default_factory=list)

    def source(self, slug: str) -> Source:
        for src in self.sources:
            if src.slug == slug:
                return src
        raise NotFound(f"no database {slug!r} in snapshot {self.info.short}")


def slug_for(path: str) -> str:
    return hashlib.sha256(path.encode("utf-8", "surrogateescape")).hexdigest()[:12]


def info_of(snap: Snapshot) -> SnapInfo:
    """What the picker shows, from the snapshot's header alone (its tree is not loaded)."""
    s = snap.summary
    files = sum(int(s.get(k, 0) or 0) for k in ("files_new", "files_changed", "files_unchanged"))
    return SnapInfo(snap.id, snap.time, snap.hostname, tuple(snap.paths),
                    int(s.get("bytes_new", 0) or 0), files)  # fmt: skip


def _readable(repo: Repository) -> Iterator[Snapshot]:
    for oid in repo.snapshot_ids():
        try:
            yield repo.load_snapshot(oid)
        except CofferError:
            continue  # damaged: `coffer check` reports it; the others stay browsable


class Catalog:
    """Snapshots of one opened repository, and their rebuilt sources (cached)."""

    def __init__(self, repo: Repository, workspace: Workspace) -> None:
        self.repo = repo
        self.workspace = workspace
        self._snaps = {s.id: s for s in _readable(repo)}
        self.infos = sorted((info_of(s) for s in self._snaps.values()), key=lambda i: i.time,
                            reverse=True)  # fmt: skip
        self._views: dict[str, SnapshotView] = {}
        self._built: dict[str, tuple[Database, Adapter, SearchIndex | None] | None] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self._children: set[ProcessRestore] = set()
        self._started: set[str] = set()
        self._failed: dict[str, Exception] = {}
        self.progress: dict[str, tuple[str, int, int]] = {}  # snapshot → (path, done, total)
        self.closed = False

    def resolve(self, ref: str) -> str:
        if ref == "latest" and self.infos:
            return self.infos[0].id
        matches = [i.id for i in self.infos if i.id.startswith(ref.lower())] if ref else []
        if len(matches) != 1:
            raise NotFound(f"no snapshot {ref[:20]!r}" if not matches else f"{ref!r} is ambiguous")
        return matches[0]

    def previous(self, snap_id: str) -> SnapInfo | None:
        ids = [i.id for i in self.infos]
        at = ids.index(snap_id)
        return self.infos[at + 1] if at + 1 < len(self.infos) else None

    def ready(self, snap_id: str) -> SnapshotView | None:
        """The snapshot's view if its databases are rebuilt; else start that and return None."""
        snap_id = self.resolve(snap_id)
        view = self._views.get(snap_id)
        if snap_id in self._failed:
            raise self._failed[snap_id]
        if view is None:
            with self._lock:
                start = snap_id not in self._started
                self._started.add(snap_id)
            if start:
                threading.Thread(target=self._prepare, args=(snap_id,), daemon=True).start()
        return view

    def _prepare(self, snap_id: str) -> None:
        try:
            self.view(snap_id)
        except Exception as exc:  # raised to the page that asks next
            self._failed[snap_id] = exc

    def view(self, snap_id: str) -> SnapshotView:
        snap_id = self.resolve(snap_id)
        with self._lock_for(f"view:{snap_id}"):
            if snap_id in self._views:
                return self._views[snap_id]
            snap = self._snaps[snap_id]
            files = {p: n for p, n in walk(snap.tree) if n.type == "file"}
            view = SnapshotView(next(i for i in self.infos if i.id == snap_id), snap, files)
            for path, node in _candidates(files):
                self.progress[snap_id] = (path, 0, node.size)
                built = self._build(node, path, snap_id)
                if built is not None:
                    _db, adapter, search = built
                    base = path.rsplit("/", 1)[0] if "/" in path else ""
                    view.sources.append(Source(slug_for(path), path, adapter, base, search))
                    if search is not None:
                        search.start()
            self._views[snap_id] = view
            return view

    def _lock_for(self, key: str) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(key, threading.Lock())

    def _build(
        self, node: Node, path: str, snap_id: str
    ) -> tuple[Database, Adapter, SearchIndex | None] | None:
        key = hashlib.sha256(node.format.encode() + b"".join(node.content)).hexdigest()[:20]
        with self._lock_for(f"db:{key}"):
            if key not in self._built:
                self._built[key] = self._rebuild(node, path, key, snap_id)
            return self._built[key]

    def _rebuild(
        self, node: Node, path: str, key: str, snap_id: str
    ) -> tuple[Database, Adapter, SearchIndex | None] | None:
        target = self.workspace.path(f"db-{key}.sqlite")
        name = path.rsplit("/", 1)[-1]
        converters = [a for a in ADAPTERS if a.converts(name)]
        if converters:
            raw = self.workspace.path(f"file-{key}")
            self.write_file(node, raw)
            for cls in converters:
                try:
                    cls.convert(raw, target)
                    break
                except NotMine:
                    target.unlink(missing_ok=True)
            raw.unlink()
            if not target.exists():
                return None
        elif node.format == "sqlite-logical":
            self._restore_logical(node, path, target, snap_id)
        else:
            self.write_file(node, target)
        return self._open(target, key)

    def _open(self, target: Path, key: str) -> tuple[Database, Adapter, SearchIndex | None] | None:
        probe = Database(target)
        try:
            adapter = adapter_for(probe)
            probe.close()
            with closing(sqlite3.connect(target, isolation_level=None)) as conn:
                conn.execute("PRAGMA journal_mode = DELETE")  # a WAL copy opens read-only alone
                type(adapter).prepare(conn)
        except sqlite3.DatabaseError:
            probe.close()
            return None  # not a database after all (a damaged or foreign file): not a source
        db = Database(target)
        adapter = type(adapter)(db)
        search = None
        if isinstance(adapter, ChatAdapter):
            search = SearchIndex(self.workspace.path(f"fts-{key}.sqlite"), adapter)
        return db, adapter, search

    def _restore_logical(self, node: Node, path: str, target: Path, snap_id: str) -> None:
        total = sum(loc.raw_length for b in node.content if (loc := self.repo.index.get(b)))
        done = 0
        with ProcessRestore(target, full_check=False) as child:
            self._children.add(child)
            try:
                for plain in Restorer(self.repo, Progress(), strict=True).blobs(node):
                    if self.closed:
                        raise NotFound("the browser is stopping")
                    child.write(plain)
                    done += len(plain)
                    self.progress[snap_id] = (path, done, total)
                self.progress[snap_id] = (path, total, total)
                child.finish()
            finally:
                self._children.discard(child)

    def close(self) -> None:
        """Stop rebuilds and index builds, close the databases (before the workspace goes)."""
        self.closed = True
        for child in list(self._children):
            child.close()
        for built in self._built.values():
            if built is not None:
                db, _adapter, search = built
                if search is not None:
                    search.close()
                db.close()

    def write_file(self, node: Node, target: Path) -> None:
        with target.open("wb") as out:
            for plain in Restorer(self.repo, Progress(), strict=True).blobs(node):
                out.write(plain)


def _candidates(files: dict[str, Node]) -> Iterable[tuple[str, Node]]:
    for path, node in files.items():
        name = path.rsplit("/", 1)[-1]
        if name.endswith(COMPANIONS):
            continue
        if node.format in ("sqlite-logical", "sqlite-pages"):
            yield path, node
        elif any(a.converts(name) for a in ADAPTERS):
            yield path, node  # an export an adapter converts
        elif name.endswith((".db", ".sqlite", ".sqlite3")) and node.size >= 512:
            yield path, node  # stored as bytes (e.g. unreadable at backup time): try it


def resolve_media(files: dict[str, Node], base: str, stored: str) -> str | None:
    """The snapshot path of a media file an app stored as ``stored`` (relative or absolute).

    Tried in order: the path below the database's folder, then below each of its parents; then
    the same with leading components dropped (``~/Library/Messages/Attachments/…`` is found as
    ``…/Attachments/…`` beside ``chat.db``). Only files of the snapshot can match.
    """
    parts = [p for p in stored.replace("\\", "/").split("/") if p not in ("", ".", "..", "~")]
    if not parts:
        return None
    bases = base.split("/") if base else []
    for drop in range(len(parts)):
        tail = "/".join(parts[drop:])
        for up in range(len(bases), -1, -1):
            prefix = "/".join(bases[:up])
            candidate = f"{prefix}/{tail}" if prefix else tail
            if candidate in files:
                return candidate
    return None
