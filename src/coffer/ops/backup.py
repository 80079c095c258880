"""Backup: walk the sources, chunk what changed, store new blobs, then index, then snapshot.

Rules:
- Order of writes is packs → index → snapshot, so a crash at any point leaves a repository
  whose snapshots are all complete; the next run adopts the packs an interrupted run left.
- SQLite databases (recognised by header) are captured through the online backup API and cut
  into page-aligned chunks; their ``-wal``/``-shm``/``-journal`` companions are not stored.
- "Unchanged" is decided from metadata alone, as restic does: a regular file whose size, mtime,
  ctime and inode match its entry in the parent snapshot (and whose blobs are all indexed) is
  not opened at all — no header read, no pre-scan. Whether it is a database is taken from the
  parent's node format. An unchanged database (same metadata, no ``-wal`` or ``-journal`` with
  content, same database mode) reuses its parent node: it is not dumped again
  (:meth:`BackupRun.reuse_unchanged` is the one hook for both kinds).
- Each file counts once: *new* (no entry in the parent), *unchanged* (reused) or *changed*.
- Files are opened ``O_NONBLOCK | O_NOFOLLOW`` and must still be regular files when opened: a
  FIFO or symlink swapped in after the walk's ``lstat`` is skipped, never waited on.
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
from coffer.engine.progress import Bounded, Progress
from coffer.engine.repository import Repository
from coffer.engine.snapshot import BlobList, Node, Snapshot, check_component, walk
from coffer.engine.uploader import Uploader
from coffer.errors import IntegrityError, RepositoryError, UsageError
from coffer.ops import dry_run
from coffer.ops.backup_db import DatabaseStore
from coffer.ops.exclude import ExcludeRules
from coffer.sqlite.capture import COMPANION_SUFFIXES, companion_of, is_sqlite_header

READ_SIZE = 1 << 20
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


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


def _looks_like_companion(name: str, siblings: set[str]) -> bool:
    """A ``-wal``/``-shm``/``-journal`` beside a file of the base name (no file is opened)."""
    return any(name.endswith(s) and name[: -len(s)] in siblings for s in COMPANION_SUFFIXES)


def _regular_files(
    roots: list[tuple[Path, str]], rules: ExcludeRules
) -> Iterator[tuple[str, str, os.stat_result]]:
    """Yield ``(path, snapshot path, lstat)`` of every regular file the rules keep; companions
    of databases are left out (they are not stored). Nothing is opened."""
    for p, top in roots:
        try:
            st = os.lstat(p)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            yield str(p), top, st
        elif stat.S_ISDIR(st.st_mode):
            for root, dirs, names in os.walk(p):
                dirs[:] = rules.subfolders(root, dirs)
                rel_root = os.path.relpath(root, p)
                prefix = top if rel_root == "." else f"{top}/{rel_root}"
                siblings = set(names)
                for n in rules.children(root, names):
                    if _looks_like_companion(n, siblings):
                        continue
                    full = os.path.join(root, n)
                    try:
                        s = os.lstat(full)
                    except OSError:
                        continue
                    if stat.S_ISREG(s.st_mode):
                        yield full, f"{prefix}/{n}", s


class BackupRun:
    """One backup of a list of sources into an open repository."""

    def __init__(self, repo: Repository, options: BackupOptions, progress: Progress) -> None:
        self.repo = repo
        self.opts = options
        self.progress = Bounded(progress)  # a dump's size is not its file's: keep the bar honest
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
        files = list(_regular_files(self.roots, self.opts.exclude))
        total, nfiles = sum(st.st_size for _, _, st in files), len(files)
        self.progress.start(total, nfiles, "backup")
        try:
            # only files the parent cannot vouch for are looked at for a database header
            self.databases.start_early(
                path for path, rel, st in files if self._unchanged_parent(rel, st) is None
            )
            tree = []
            for p, name in zip(paths, names, strict=True):
                self._current = SourceStats(str(p))
                self.source_stats.append(self._current)
                with self.measure(self._current):
                    node = self._visit(p, name, name)
                if node is not None:
                    tree.append(node)
            self.progress.phase("storing databases")
            self.databases.store_deferred()
            self.uploader.finish()
            self.progress.complete()
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
        siblings = set(names)
        for child in names:
            cpath = path / child
            if self._is_companion(cpath, f"{rel}/{child}", siblings):
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

    def _is_companion(self, path: Path, rel: str, siblings: set[str]) -> bool:
        """A database's ``-wal``/``-shm``/``-journal``: known from the parent snapshot when the
        database is unchanged there, else by reading the base file's header."""
        if not _looks_like_companion(path.name, siblings):
            return False
        for suffix in COMPANION_SUFFIXES:
            if path.name.endswith(suffix):
                old = self.parent_files.get(rel[: -len(suffix)])
                if old is not None and old.format.startswith("sqlite-"):
                    return True
        return companion_of(path) is not None

    def _unchanged_parent(self, rel: str, st: os.stat_result) -> Node | None:
        """The parent's node for ``rel`` if the file's metadata says it is unchanged."""
        old = self.parent_files.get(rel)
        meta = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
        return old if old is not None and _same_metadata(old, *meta) else None

    def reuse_unchanged(self, path: Path, node: Node, rel: str) -> bool:
        """The walk's one hook for "unchanged → reuse the parent node", files and databases.

        Decided without opening the file (``node`` holds the walk's lstat). A database must
        also have no ``-wal``/``-journal`` with content (its committed state may be there, not
        in the file) and be in this run's database mode; its node (format, stream details) is
        taken over as it was.
        """
        old = self.parent_files.get(rel)
        meta = (node.size, node.mtime_ns, node.ctime_ns, node.inode)
        if old is None or not _same_metadata(old, *meta):
            return False
        if old.format.startswith("sqlite-"):
            if old.format != f"sqlite-{self.databases.mode}" or _journal_has_content(path):
                return False
        elif old.format != "file":
            return False
        if not all(self.uploader.has(b) for b in old.content):
            return False
        node.format, node.content = old.format, BlobList(old.content)
        node.size, node.extra = old.size, dict(old.extra)
        return True

    def _visit_file(self, path: Path, node: Node, rel: str) -> Node | None:
        status = "new" if rel not in self.parent_files else "changed"
        if self.reuse_unchanged(path, node, rel):
            self.progress.advance(node.size)
            status = "unchanged"
        else:
            try:
                self._read_file(path, node)
            except OSError as exc:
                self._skip(path, exc)
                return None
        self.result_counts[status] += 1
        if self._current is not None:
            self._current.files += 1
        self.progress.item(rel, status, node.size)
        self.progress.file_done(rel)
        return node

    def _read_file(self, path: Path, node: Node) -> None:
        fd = os.open(path, _OPEN_FLAGS)
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # replaced since the walk's lstat
            os.close(fd)
            raise OSError(0, "not a regular file any more")
        with os.fdopen(fd, "rb") as fh:
            head = fh.read(16)
            fh.seek(0)
            if is_sqlite_header(head):
                try:
                    self.databases.store(path, node, self._current)
                except sqlite3.Error as exc:  # damaged, or not really a database
                    self.store_as_bytes(path, fh, node, exc)
            else:
                self._store_file(path, fh, node, try_compress=not looks_compressed(head))

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


def _same_metadata(old: Node, size: int, mtime_ns: int, ctime_ns: int, inode: int) -> bool:
    """Same mtime, ctime and inode — and size, except for a page-mode database, whose node
    holds its consistent copy's size rather than the file's (ctime still moves on any write)."""
    if (old.mtime_ns, old.ctime_ns, old.inode) != (mtime_ns, ctime_ns, inode):
        return False
    return old.format == "sqlite-pages" or old.size == size


def _journal_has_content(db: Path) -> bool:
    """A ``-wal`` or ``-journal`` beside ``db`` that is not empty (lstat only)."""
    for suffix in ("-wal", "-journal"):
        try:
            if os.lstat(f"{db}{suffix}").st_size > 0:
                return True
        except OSError:
            continue
    return False


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
