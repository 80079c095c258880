"""Backup: walk the sources, chunk what changed, store new blobs, then index, then snapshot.

Rules:
- Order of writes is packs → index → snapshot, so a crash at any point leaves a repository
  whose snapshots are all complete; the next run adopts the packs an interrupted run left.
- SQLite databases (recognised by header) are captured through the online backup API and cut
  into page-aligned chunks; their ``-wal``/``-shm``/``-journal`` companions are not stored.
- A regular file whose (size, mtime, ctime, inode) match the parent snapshot and whose blobs are
  all indexed is not read again (the parent snapshot is the files cache).
- A source that does not exist when the backup starts is a :class:`UsageError` (a mistyped
  path must not save an empty snapshot); nothing is written. A source or file that vanishes
  *during* the backup, or cannot be read, is skipped with a warning and listed in the
  snapshot's ``skipped``; the caller turns that into the "partial" exit code.
- Memory is bounded: one chunk of input, one pack being filled, ``max_inflight`` packs uploading.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import socket
import sqlite3
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from coffer.backends.base import ObjectType
from coffer.engine.chunker import Chunker
from coffer.engine.compress import looks_compressed
from coffer.engine.errors import RepositoryExists  # noqa: F401 - re-exported for callers
from coffer.engine.progress import Progress
from coffer.engine.repository import Repository
from coffer.engine.snapshot import Node, Snapshot, check_component, walk
from coffer.engine.uploader import Uploader
from coffer.errors import IntegrityError, RepositoryError, UsageError
from coffer.ops import dry_run
from coffer.ops.backup_db import DatabaseStore
from coffer.ops.exclude import ExcludeRules
from coffer.sqlite.capture import companion_of, is_sqlite_header

READ_SIZE = 1 << 20


@dataclass
class BackupOptions:
    hostname: str = field(default_factory=socket.gethostname)
    tags: list[str] = field(default_factory=list)
    parent: str | None = None  # snapshot ID, or None to pick the latest matching one
    use_parent: bool = True
    db_mode: str | None = None  # "pages" | "logical"; None = repository default
    tmpdir: str | None = None
    exclude: ExcludeRules = field(default_factory=ExcludeRules)  # what to leave out
    dry_run: bool = False  # do everything but write to storage (coffer.ops.dry_run)


@dataclass
class SourceStats:
    path: str
    bytes_read: int = 0
    bytes_new: int = 0
    bytes_stored: int = 0
    files: int = 0


@dataclass
class BackupResult:
    snapshot: Snapshot
    files_new: int = 0
    files_changed: int = 0
    files_unchanged: int = 0
    dirs: int = 0
    bytes_read: int = 0
    bytes_new: int = 0
    bytes_stored: int = 0
    blobs_new: int = 0
    packs: int = 0
    sources: list[SourceStats] = field(default_factory=list)

    @property
    def skipped(self) -> list[dict[str, str]]:
        return self.snapshot.skipped


def _top_name(path: Path) -> str:
    name = path.name or "root"
    return check_component(name)


def _require_sources(paths: list[Path]) -> None:
    """Raise :class:`UsageError` naming every source that does not exist (lstat: a dangling
    symlink exists). Other errors (permission) are left to the walk, which records them."""
    missing = []
    for p in paths:
        try:
            os.lstat(p)
        except (FileNotFoundError, NotADirectoryError):
            missing.append(str(p))
        except OSError:
            continue
    if missing:
        what = "source does not exist" if len(missing) == 1 else "sources do not exist"
        raise UsageError(f"backup {what}: {', '.join(missing)} (nothing was backed up)")


def _regular_files(paths: list[Path], rules: ExcludeRules) -> Iterator[tuple[str, int]]:
    """Yield ``(path, size)`` of every regular file below ``paths`` the rules keep (lstat)."""
    for p in paths:
        try:
            st = os.lstat(p)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            yield str(p), st.st_size
        elif stat.S_ISDIR(st.st_mode):
            for root, dirs, names in os.walk(p):
                dirs[:] = rules.subfolders(root, dirs)
                for n in rules.children(root, names):
                    full = os.path.join(root, n)
                    try:
                        s = os.lstat(full)
                    except OSError:
                        continue
                    if stat.S_ISREG(s.st_mode):
                        yield full, s.st_size


class BackupRun:
    """One backup of a list of sources into an open repository."""

    def __init__(self, repo: Repository, options: BackupOptions, progress: Progress) -> None:
        self.repo = repo
        self.opts = options
        self.progress = progress
        self.chunker = Chunker(repo.keys.chunker, repo.params.chunker)
        self.databases = DatabaseStore(self)
        # local disks gain nothing from several packs in flight; remote stores hide latency
        remote = repo.backend.capabilities.remote
        self.uploader = Uploader(repo, workers=4 if remote else 2, max_inflight=4 if remote else 2)
        self.skipped: list[dict[str, str]] = []
        self.result_counts = {"new": 0, "changed": 0, "unchanged": 0, "dirs": 0}
        self.bytes_read = 0
        self.parent_files: dict[str, Node] = {}
        self.roots: list[tuple[Path, str]] = []
        self.source_stats: list[SourceStats] = []
        self._current: SourceStats | None = None

    # -- entry point ----------------------------------------------------------------------
    def run(self, sources: list[Path]) -> BackupResult:
        paths = [Path(os.path.abspath(p)) for p in sources]
        names = [_top_name(p) for p in paths]
        if len(set(names)) != len(names):
            raise UsageError("two sources have the same name; back them up separately")
        _require_sources(paths)
        self.roots = list(zip(paths, names, strict=True))  # for the databases' parent nodes
        parent = self._pick_parent([str(p) for p in paths])
        if parent is not None:
            self.parent_files = {path: n for path, n in walk(parent.tree) if n.type == "file"}
        self.uploader.extra_packs = self.repo.adopt_unindexed_packs()
        files = list(_regular_files(paths, self.opts.exclude))
        total, nfiles = sum(size for _, size in files), len(files)
        self.progress.start(total, nfiles, "backup")
        try:
            self.databases.start_early(name for name, _size in files)
            tree = []
            for p, name in zip(paths, names, strict=True):
                self._current = SourceStats(str(p))
                self.source_stats.append(self._current)
                with self.measure(self._current):
                    node = self._visit(p, name, name)
                if node is not None:
                    tree.append(node)
            self.databases.store_deferred()
            self.uploader.finish()
        except BaseException:
            self.uploader.abort()
            raise
        finally:
            self.databases.close()
            self.progress.finish()
        snap = self._snapshot(paths, tree, parent)
        if self.opts.dry_run:
            return self._result(snap)  # never stamped, never stored
        self._check_packs_still_exist(snap)
        self.repo.save_snapshot(snap)
        return self._result(snap)

    def _check_packs_still_exist(self, snap: Snapshot) -> None:
        """Refuse to write a snapshot that references a pack deleted while we ran.

        A prune sweep on another device deletes packs only after its grace period and only if
        no snapshot or index needs them, but a backup that deduplicated against such a pack
        before the mark and ran longer than the grace period would otherwise commit a snapshot
        with missing data. Listing ``data/`` once, just before the snapshot is written, turns
        that case into an error the user can retry; nothing is lost.
        """
        needed = set()
        for _path, node in walk(snap.tree):
            for bid in node.content:
                loc = self.repo.index.get(bid)
                if loc is not None:
                    needed.add(loc.pack_id)
        present = {name for name, _ in self.repo.backend.list(ObjectType.DATA)}
        missing = needed - present
        if missing:
            raise RepositoryError(
                f"{len(missing)} pack(s) this backup relies on were removed while it ran "
                "(a prune on another device?); no snapshot was written — run the backup again"
            )

    def _pick_parent(self, paths: list[str]) -> Snapshot | None:
        if not self.opts.use_parent:
            return None
        if self.opts.parent:
            return self.repo.load_snapshot(self.opts.parent)
        best: Snapshot | None = None
        for oid in self.repo.snapshot_ids():
            try:
                snap = self.repo.load_snapshot(oid)
            except IntegrityError as exc:
                self.progress.warn(f"ignoring a damaged snapshot as parent: {exc}")
                continue
            same = snap.hostname == self.opts.hostname and sorted(snap.paths) == sorted(paths)
            if same and (best is None or snap.time > best.time):
                best = snap
        return best

    # -- walking --------------------------------------------------------------------------
    def _skip(self, path: Path, exc: BaseException) -> None:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        self.skipped.append({"path": str(path), "error": reason})
        self.progress.warn(f"skipped {path}: {reason}")

    def _visit(self, path: Path, name: str, rel: str) -> Node | None:
        try:
            st = os.lstat(path)
        except OSError as exc:
            self._skip(path, exc)
            return None
        node = Node(name=name, type="", mode=stat.S_IMODE(st.st_mode), mtime_ns=st.st_mtime_ns)
        if "/" in rel and self.opts.exclude.crosses_device(str(path), st.st_dev):
            node.type = "dir"  # --one-file-system: a mount point stays, empty; a file goes
            return node if stat.S_ISDIR(st.st_mode) else None
        if stat.S_ISDIR(st.st_mode):
            return self._visit_dir(path, node, rel)
        if stat.S_ISLNK(st.st_mode):
            node.type = "symlink"
            try:
                node.target = os.readlink(path)
            except OSError as exc:
                self._skip(path, exc)
                return None
            return node
        if stat.S_ISREG(st.st_mode):
            node.type = "file"
            node.size, node.inode, node.ctime_ns = st.st_size, st.st_ino, st.st_ctime_ns
            return self._visit_file(path, node, rel)
        self._skip(path, OSError(0, "not a regular file, directory or symlink"))
        return None

    def _visit_dir(self, path: Path, node: Node, rel: str) -> Node | None:
        node.type = "dir"
        self.result_counts["dirs"] += 1
        try:
            names = sorted(e.name for e in os.scandir(path))
        except OSError as exc:
            self._skip(path, exc)
            return None
        names = self.opts.exclude.children(str(path), names)
        for child in names:
            cpath = path / child
            if companion_of(cpath) is not None:
                continue
            try:
                check_component(child)
            except Exception as exc:
                self._skip(cpath, exc)
                continue
            cnode = self._visit(cpath, child, f"{rel}/{child}")
            if cnode is not None:
                node.children.append(cnode)
        return node

    def _visit_file(self, path: Path, node: Node, rel: str) -> Node | None:
        try:
            with open(path, "rb") as fh:
                head = fh.read(16)
                fh.seek(0)
                if is_sqlite_header(head):
                    try:
                        self._store_sqlite(path, node)
                    except sqlite3.Error as exc:  # damaged, or not really a database
                        self.store_as_bytes(path, fh, node, exc)
                elif not self._reuse(node, rel):
                    compressible = not looks_compressed(head)
                    self._store_file(path, fh, node, try_compress=compressible)
        except OSError as exc:
            self._skip(path, exc)
            return None
        if self._current is not None:
            self._current.files += 1
        self.progress.file_done(rel)
        return node

    def _reuse(self, node: Node, rel: str) -> bool:
        old = self.parent_files.get(rel)
        if old is None:
            self.result_counts["new"] += 1
            return False
        same = (old.size, old.mtime_ns, old.ctime_ns, old.inode, old.format) == (
            node.size,
            node.mtime_ns,
            node.ctime_ns,
            node.inode,
            "file",
        )
        if same and all(self.uploader.has(b) for b in old.content):
            node.content = list(old.content)
            self.result_counts["unchanged"] += 1
            self.progress.advance(node.size)
            return True
        self.result_counts["changed"] += 1
        return False

    # -- storing content ------------------------------------------------------------------
    def add_chunk(self, data: bytes | memoryview, node: Node, try_compress: bool) -> None:
        bid = self.repo.blob_id(data)
        self.uploader.add(bid, data, try_compress=try_compress)
        node.content.append(bid)
        self.bytes_read += len(data)
        if self._current is not None:
            self._current.bytes_read += len(data)
        self.progress.advance(len(data))

    def _store_file(self, path: Path, fh: BinaryIO, node: Node, *, try_compress: bool) -> None:
        size = 0
        for chunk in self.chunker.file_chunks(os.fstat(fh.fileno()).st_size, fh):
            size += len(chunk)
            self.add_chunk(chunk, node, try_compress)
        node.size = size

    def store_as_bytes(self, path: Path, fh: BinaryIO, node: Node, exc: Exception) -> None:
        """A file with SQLite's header that SQLite cannot read is kept as plain bytes."""
        self.progress.warn(f"{path}: not a readable SQLite database ({exc}); stored as a file")
        node.format, node.extra, node.content = "file", {}, []
        fh.seek(0)
        self._store_file(path, fh, node, try_compress=True)

    def _store_sqlite(self, path: Path, node: Node) -> None:
        self.result_counts["changed"] += 1
        self.databases.store(path, node, self._current)

    @contextlib.contextmanager
    def measure(self, source: SourceStats | None) -> Iterator[None]:
        """Add the new and stored bytes of the block's work to ``source``."""
        stats = self.uploader.stats
        new0, stored0 = stats.bytes_new_raw, stats.bytes_payload
        yield
        self.uploader.settle()
        if source is not None:
            source.bytes_new += stats.bytes_new_raw - new0
            source.bytes_stored += stats.bytes_payload - stored0

    # -- results --------------------------------------------------------------------------
    def _snapshot(self, paths: list[Path], tree: list[Node], parent: Snapshot | None) -> Snapshot:
        up = self.uploader.stats
        return Snapshot(
            time=datetime.now(UTC).isoformat(timespec="microseconds"),
            hostname=self.opts.hostname,
            username=_username(),
            paths=[str(p) for p in paths],
            tree=tree,
            parent=parent.id if parent else None,
            tags=list(self.opts.tags),
            skipped=self.skipped,
            summary={
                "files_new": self.result_counts["new"],
                "files_changed": self.result_counts["changed"],
                "files_unchanged": self.result_counts["unchanged"],
                "dirs": self.result_counts["dirs"],
                "bytes_read": self.bytes_read,
                "bytes_total": sum(n.size for _, n in walk(tree) if n.type == "file"),
                "bytes_new": up.bytes_new_raw,
                "bytes_stored": up.bytes_stored,
                "blobs_new": up.blobs_new,
                "packs": up.packs,
            },
        )

    def _result(self, snap: Snapshot) -> BackupResult:
        up = self.uploader.stats
        return BackupResult(
            snapshot=snap,
            files_new=self.result_counts["new"],
            files_changed=self.result_counts["changed"],
            files_unchanged=self.result_counts["unchanged"],
            dirs=self.result_counts["dirs"],
            bytes_read=self.bytes_read,
            bytes_new=up.bytes_new_raw,
            bytes_stored=up.bytes_stored,
            blobs_new=up.blobs_new,
            packs=up.packs,
            sources=self.source_stats,
        )


def _username() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def backup(
    repo: Repository,
    sources: list[Path],
    options: BackupOptions | None = None,
    progress: Progress | None = None,
) -> BackupResult:
    """Back up ``sources`` into ``repo`` and return the new snapshot with statistics."""
    options = options or BackupOptions()
    if options.dry_run:
        repo = dry_run.view(repo)
    return BackupRun(repo, options, progress or Progress()).run(sources)
