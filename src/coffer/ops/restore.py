"""Restore: write a snapshot (or some paths of it) into a target folder, safely.

Rules:
- Nothing outside the target is ever written: every path component is opened relative to its
  parent's directory descriptor with ``O_NOFOLLOW``, so neither ``..`` (rejected by
  :func:`~coffer.engine.snapshot.check_component`) nor a symlink — planted by the snapshot or
  already in the target — can redirect a write. Symlinks are created, never followed.
- Only authenticated plaintext is written. A file is written under a temporary name and renamed
  into place only when every blob verified; a file with a damaged blob is removed and reported,
  and the restore continues (or stops at once with ``strict``).
- What happens to entries already in the target is ``overwrite``'s decision
  (:mod:`coffer.ops.restore_plan`; the default, ``never``, changes nothing that is there). A
  file another process has open for writing (:mod:`coffer.ops.in_use`) is never replaced or
  deleted: it is reported, and the restore ends incomplete.
- A database never lands next to a stale ``-wal``/``-journal`` (:mod:`coffer.ops.restore_place`);
  the companions moved aside are reported.
- ``paths`` restores only those entries, keeping the snapshot's layout below the target
  (:mod:`coffer.ops.select`).
- ``delete`` removes, inside every folder the restore covers in full, the entries the snapshot
  does not have — never directly in the target folder (it holds the sources side by side, and
  maybe other things), nor in folders above a ``paths`` selection, nor a database's companions
  (the placement rule owns those).
- ``dry_run`` writes nothing, not even the target folder; it takes the same decisions and lists
  them in :attr:`RestoreResult.actions`.
- A full target (``ENOSPC``/``EDQUOT``) stops the restore at once with
  :class:`~coffer.engine.errors.TargetFull` (exit 14) naming the target; nothing partial stays.
- Contents, mode bits and mtimes are restored; folders get their mode and mtime after their
  children are written (a folder that was already there keeps its own under ``never``).
- Blobs that sit next to each other in a pack are fetched with one ranged read.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import stat
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from coffer.backends.base import BackendError, ObjectType
from coffer.engine.errors import RestoreWriteError, TargetFull, UnsafePath
from coffer.engine.index import Location
from coffer.engine.progress import Bounded, Progress
from coffer.engine.repository import Repository
from coffer.engine.snapshot import Node, Snapshot, check_component
from coffer.errors import IntegrityError
from coffer.ops import in_use, select
from coffer.ops.restore_db import DatabaseRebuilds
from coffer.ops.restore_place import (
    Aside,
    companions,
    dirty_companions,
    place,
    unlink_if_symlink,
)
from coffer.ops.restore_plan import (
    CREATE,
    DELETE,
    IN_USE,
    KEEP,
    REPLACE,
    UNCHANGED,
    check_mode,
    decide,
    is_database,
    kind_of,
    looks_same,
)
from coffer.sqlite.capture import COMPANION_SUFFIXES, is_sqlite_header

__all__ = ["RestoreOptions", "RestoreResult", "Restorer", "restore", "unlink_if_symlink"]

MAX_RUN = 16 * 1024 * 1024
FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


@dataclass
class RestoreOptions:
    paths: list[str] = field(default_factory=list)  # in-snapshot paths (select.resolve)
    overwrite: str = "never"
    delete: bool = False
    dry_run: bool = False
    strict: bool = False


@dataclass
class RestoreResult:
    files: int = 0  # files written (created or replaced)
    dirs: int = 0
    symlinks: int = 0
    bytes: int = 0
    # entries not restored: {"path", "error", "kind"}, kind "damaged" (the repository's data),
    # "unwritable" (the target refused) or "in-use" (another process has it open for writing)
    errors: list[dict[str, str]] = field(default_factory=list)
    actions: list[tuple[str, str]] = field(default_factory=list)  # (action, path)
    companions: list[dict[str, object]] = field(default_factory=list)  # {"path", "moved"}
    databases: list[str] = field(default_factory=list)  # database paths written

    def count(self, action: str) -> int:
        return Counter(a for a, _ in self.actions)[action]

    @property
    def damaged(self) -> list[dict[str, str]]:
        return [e for e in self.errors if e["kind"] == "damaged"]

    @property
    def incomplete(self) -> list[dict[str, str]]:
        return [e for e in self.errors if e["kind"] != "damaged"]


def _runs(repo: Repository, content: Sequence[bytes]) -> Iterator[list[tuple[bytes, Location]]]:
    """Group a file's blobs into runs that are contiguous inside one pack."""
    run: list[tuple[bytes, Location]] = []
    run_size = 0
    for bid in content:
        loc = repo.index.get(bid)
        if loc is None:
            raise IntegrityError(f"blob {bid.hex()[:16]} is not in the index")
        if run:
            last = run[-1][1]
            contiguous = loc.pack_id == last.pack_id and loc.offset == last.offset + last.length
            if not contiguous or run_size + loc.length > MAX_RUN:
                yield run
                run, run_size = [], 0
        run.append((bid, loc))
        run_size += loc.length
    if run:
        yield run


def _read_run(repo: Repository, run: list[tuple[bytes, Location]]) -> Iterator[bytes]:
    first = run[0][1]
    total = run[-1][1].offset + run[-1][1].length - first.offset
    raw = repo.backend.load(ObjectType.DATA, first.pack_id, first.offset, total)
    for bid, loc in run:
        start = loc.offset - first.offset
        yield repo.open_blob(bid, loc, raw[start : start + loc.length])


def node_blobs(repo: Repository, node: Node) -> Iterator[bytes]:
    """A file node's plaintext, blob by blob, each authenticated (adjacent blobs: one read)."""
    for run in _runs(repo, node.content):
        yield from _read_run(repo, run)


def progress_bytes(node: Node) -> int:
    """What restoring ``node`` advances the progress by (a logical database: its stream)."""
    if node.format == "sqlite-logical":
        return int(node.extra.get("stream_bytes", node.size))
    return node.size


def _totals(nodes: list[Node]) -> tuple[int, int]:
    total = files = 0
    for node in nodes:
        if node.type == "file":
            total, files = total + progress_bytes(node), files + 1
        elif node.type == "dir":
            t, f = _totals(node.children)
            total, files = total + t, files + f
    return total, files


def _lstat(dir_fd: int | None, name: str) -> os.stat_result | None:
    if dir_fd is None:
        return None
    try:
        return os.lstat(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return None


class Restorer:
    """Writes nodes below an open directory descriptor (``None``: a folder a dry run lacks)."""

    def __init__(
        self,
        repo: Repository,
        progress: Progress,
        strict: bool = False,
        options: RestoreOptions | None = None,
        target: Path | None = None,
    ) -> None:
        self.repo = repo
        self.progress = progress
        self.opts = options or RestoreOptions(strict=strict)
        self.opts.overwrite = check_mode(self.opts.overwrite)
        self.target = target or Path(".")
        self.result = RestoreResult()
        self.databases = DatabaseRebuilds(self)
        self.aside = Aside(None)
        self.partial: set[int] = set()  # folders restored in part (above a paths selection)
        self._open_files: in_use.OpenFiles | None = None

    # -- what is there --------------------------------------------------------------------
    def writers(self, dir_fd: int, name: str, st: os.stat_result) -> list[in_use.Writer]:
        """Processes with ``name`` (or, for a database, a companion) open for writing."""
        if self._open_files is None:
            self._open_files = in_use.scan(self.target)
        found = list(self._open_files.writers(st))
        for other in companions(dir_fd, name):
            cst = _lstat(dir_fd, other)
            if cst is not None:
                found += self._open_files.writers(cst)
        return found

    def record(self, action: str, rel: str) -> None:
        self.result.actions.append((action, rel))

    def _in_use(self, dir_fd: int, node_name: str, st: os.stat_result, rel: str) -> bool:
        if kind_of(st) != "file":
            return False
        writers = self.writers(dir_fd, node_name, st)
        if not writers:
            return False
        who = ", ".join(str(w) for w in writers[:3])
        self.record(IN_USE, rel)
        self.incomplete(rel, f"open for writing by {who}; left as it is", "in-use")
        return True

    def _decide(
        self, dir_fd: int | None, node: Node, rel: str
    ) -> tuple[str, os.stat_result | None]:
        st = _lstat(dir_fd, node.name)
        if st is None or dir_fd is None:
            return CREATE, None
        link = os.readlink(node.name, dir_fd=dir_fd) if kind_of(st) == "symlink" else ""
        dirty = is_database(node) and dirty_companions(dir_fd, node.name)
        action = decide(
            node, st, self.opts.overwrite, same=looks_same(node, st, link=link, dirty=dirty)
        )
        if action == REPLACE and self._in_use(dir_fd, node.name, st, rel):
            return IN_USE, st
        return action, st

    # -- the walk -------------------------------------------------------------------------
    def restore_nodes(self, dir_fd: int | None, nodes: list[Node], prefix: str) -> None:
        plans = []
        for node in nodes:
            rel = f"{prefix}{check_component(node.name)}"
            action, st = self._decide(dir_fd, node, rel) if node.type != "dir" else ("", None)
            plans.append((node, rel, action, st))
        jobs = [
            self.databases.start(node, rel)
            for node, rel, action, _st in plans
            if node.format == "sqlite-logical" and self._writes(action) and node.type == "file"
        ]
        try:
            for node, rel, action, st in plans:
                if node.type == "dir":
                    self._restore_dir(dir_fd, node, rel)
                elif node.type == "file":
                    self._file(dir_fd, node, rel, action, st, deferred=bool(jobs))
        finally:
            for job in jobs:
                self.progress.phase(f"rebuilding database {job.rel}")
                job.thread.join()
            if jobs:
                self.progress.phase("restore")
        for job in jobs:
            assert dir_fd is not None
            self.databases.finish(dir_fd, job)
        for node, rel, action, st in plans:  # after files and dirs: no write passes through them
            if node.type == "symlink":
                self._symlink(dir_fd, node, rel, action, st)

    def _writes(self, action: str) -> bool:
        return action in (CREATE, REPLACE) and not self.opts.dry_run

    def _skip(self, node: Node, rel: str, action: str) -> None:
        self.record(action, rel)
        self.progress.advance(progress_bytes(node))
        self.progress.file_done(rel)

    def _file(
        self, dir_fd: int | None, node: Node, rel: str, action: str, st: os.stat_result | None,
        deferred: bool,
    ) -> None:  # fmt: skip
        if action in (UNCHANGED, KEEP, IN_USE):
            if action != IN_USE:
                self._skip(node, rel, action)
            return
        if st is not None and kind_of(st) == "dir":
            self.incomplete(rel, "a folder of that name is in the way; not replaced")
            return
        if self.opts.dry_run:
            self._skip(node, rel, action)
            if dir_fd is not None and is_database(node):
                self._note_companions(rel, companions(dir_fd, node.name))
            return
        assert dir_fd is not None
        self.record(action, rel)
        if node.format != "sqlite-logical":  # a logical database is rebuilt by its own job
            self._restore_file(dir_fd, node, rel)

    def _restore_dir(self, parent_fd: int | None, node: Node, rel: str) -> None:
        st = _lstat(parent_fd, node.name)
        if st is not None and kind_of(st) != "dir":  # a file or symlink where a folder goes
            assert parent_fd is not None
            if decide(node, st, self.opts.overwrite, same=False) != REPLACE:
                self._skip_tree(node, rel)
                return
            if self._in_use(parent_fd, node.name, st, rel):
                return
            self.record(REPLACE, rel)
            if not self.opts.dry_run:
                os.unlink(node.name, dir_fd=parent_fd)
            st = None
        fd = self._enter_dir(parent_fd, node, rel, create=st is None)
        try:
            self.restore_nodes(fd, node.children, rel + "/")
            if self.opts.delete and id(node) not in self.partial:
                self._delete_extra(fd, node.children, rel + "/")
            own = st is None or self.opts.overwrite != "never"
            if fd is not None and not self.opts.dry_run and own:
                os.chmod(fd, stat.S_IMODE(node.mode))
                os.utime(fd, ns=(node.mtime_ns, node.mtime_ns))
        finally:
            if fd is not None:
                os.close(fd)
        self.result.dirs += 1

    def _enter_dir(self, parent_fd: int | None, node: Node, rel: str, create: bool) -> int | None:
        """The folder's descriptor (made if missing); a dry run gets None for a missing one."""
        if self.opts.dry_run and (create or parent_fd is None):
            return None
        assert parent_fd is not None
        return self._open_dir(parent_fd, node, rel, create)

    def _open_dir(self, parent_fd: int, node: Node, rel: str, create: bool) -> int:
        if create:
            with contextlib.suppress(FileExistsError):
                os.mkdir(node.name, 0o700, dir_fd=parent_fd)
        try:
            return os.open(node.name, _DIR_FLAGS, dir_fd=parent_fd)
        except OSError as exc:
            raise UnsafePath(
                f"{rel}: exists in the target and is not a directory ({exc.strerror})"
            ) from None

    def _skip_tree(self, node: Node, rel: str) -> None:
        self.record(KEEP, rel)
        total, _files = _totals([node])
        self.progress.advance(total)

    # -- writing files --------------------------------------------------------------------
    def _restore_file(self, dir_fd: int, node: Node, rel: str) -> None:
        # a fixed-length name: a long (legal) non-ASCII name plus a suffix could exceed 255 bytes
        tmp = f".coffer-partial-{secrets.token_hex(8)}"
        fd = -1
        try:
            fd = os.open(tmp, _FILE_FLAGS | os.O_EXCL, 0o600, dir_fd=dir_fd)
            written, head = self._write(fd, node)
            os.chmod(fd, stat.S_IMODE(node.mode))
            os.utime(fd, ns=(node.mtime_ns, node.mtime_ns))
            os.close(fd)
            fd = -1
            database = is_database(node) or is_sqlite_header(head)
            moved = place(dir_fd, node.name, dir_fd, tmp, database=database, aside=self.aside)
        except (IntegrityError, BackendError) as exc:
            self._discard(fd, dir_fd, tmp)
            self.fail(rel, exc)
            return
        except OSError as exc:
            self._discard(fd, dir_fd, tmp)
            if exc.errno in FULL_ERRNOS:
                raise self.full(rel) from None
            self.incomplete(rel, f"cannot be written ({exc.strerror})")
            return
        except BaseException:
            self._discard(fd, dir_fd, tmp)
            raise
        self.placed(rel, written, moved, database=database)

    def _write(self, fd: int, node: Node) -> tuple[int, bytes]:
        written, head = 0, b""
        with os.fdopen(fd, "wb", closefd=False) as out:
            for plain in self.blobs(node):
                if written < 16:
                    head += plain[: 16 - written]
                out.write(plain)
                written += len(plain)
        return written, head

    def placed(self, rel: str, size: int, moved: list[str], *, database: bool) -> None:
        """A file is in place: count it, and report the companions moved aside for it."""
        self.result.files += 1
        self.result.bytes += size
        if database:
            self.result.databases.append(rel)
        self._note_companions(rel, moved)
        self.progress.item(rel, "restored", size)
        self.progress.file_done(rel)

    def _note_companions(self, rel: str, moved: list[str]) -> None:
        if moved:
            self.result.companions.append({"path": rel, "moved": moved})

    def full(self, rel: str) -> TargetFull:
        done = self.result.files
        return TargetFull(
            f"no space left on {self.target} while restoring {rel} ({done} file"
            f"{'' if done == 1 else 's'} restored before it; nothing partial is left): "
            "free some space and run the restore again"
        )

    @staticmethod
    def _discard(fd: int, dir_fd: int, tmp: str) -> None:
        """Close and remove an unfinished temporary file: no partial file stays behind."""
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dir_fd)

    def blobs(self, node: Node) -> Iterator[bytes]:
        for plain in node_blobs(self.repo, node):
            self.progress.advance(len(plain))
            yield plain

    def fail(self, rel: str, exc: Exception) -> None:
        """``rel``'s data in the repository is damaged: reported (``strict``: raised)."""
        self.result.errors.append({"path": rel, "error": str(exc), "kind": "damaged"})
        self.progress.warn(f"not restored: {rel}: {exc}")
        if self.opts.strict:
            raise exc

    def incomplete(self, rel: str, reason: str, kind: str = "unwritable") -> None:
        """The target refused ``rel``, or another process holds it: reported, not written."""
        self.result.errors.append({"path": rel, "error": reason, "kind": kind})
        self.progress.warn(f"not restored: {rel}: {reason}")
        if self.opts.strict:
            raise RestoreWriteError(f"{rel}: {reason}")

    # -- symlinks and deletions -----------------------------------------------------------
    def _symlink(
        self, dir_fd: int | None, node: Node, rel: str, action: str, st: os.stat_result | None
    ) -> None:
        if action in (UNCHANGED, KEEP, IN_USE):
            if action != IN_USE:
                self.record(action, rel)
            return
        if st is not None and kind_of(st) == "dir":
            self.incomplete(rel, "a folder of that name is in the way; not replaced")
            return
        self.record(action, rel)
        if self.opts.dry_run:
            return
        assert dir_fd is not None
        tmp = f".coffer-partial-{secrets.token_hex(8)}"
        try:
            os.symlink(node.target, tmp, dir_fd=dir_fd)
            with contextlib.suppress(OSError, NotImplementedError):
                os.utime(tmp, ns=(node.mtime_ns,) * 2, dir_fd=dir_fd, follow_symlinks=False)
            os.rename(tmp, node.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=dir_fd)
            if exc.errno in FULL_ERRNOS:
                raise self.full(rel) from None
            self.incomplete(rel, f"cannot be written ({exc.strerror})")
            return
        self.result.symlinks += 1

    def _delete_extra(self, dir_fd: int | None, nodes: list[Node], prefix: str) -> None:
        if dir_fd is None:
            return
        wanted = {n.name for n in nodes}
        owned = {n.name + s for n in nodes if n.type == "file" for s in COMPANION_SUFFIXES}
        for name in sorted(os.listdir(dir_fd)):
            if name in wanted or name in owned:
                continue
            rel = prefix + name
            st = _lstat(dir_fd, name)
            if st is None or self._in_use(dir_fd, name, st, rel):
                continue
            self.record(DELETE, rel)
            if self.opts.dry_run:
                continue
            if kind_of(st) == "dir":
                shutil.rmtree(name, dir_fd=dir_fd)
            else:
                os.unlink(name, dir_fd=dir_fd)


def restore(
    repo: Repository,
    snap: Snapshot,
    target: Path,
    *,
    path: str | None = None,
    options: RestoreOptions | None = None,
    strict: bool = False,
    progress: Progress | None = None,
) -> RestoreResult:
    """Restore ``snap`` (or the entries at ``options.paths``, or ``path``) below ``target``."""
    opts = options or RestoreOptions(strict=strict)
    repo.ensure_index()
    if path:
        opts.paths = [*opts.paths, *select.resolve(snap, [path])]
    nodes, partial = select.select(snap, opts.paths) if opts.paths else (snap.tree, set())
    bar = Bounded(progress or Progress())
    restorer = Restorer(repo, bar, options=opts, target=target)
    restorer.partial = partial
    total, files = _totals(nodes)
    bar.start(total, files, "restore" if not opts.dry_run else "restore (dry run)")
    try:
        if opts.dry_run:
            exists = target.is_dir()
            root_fd = os.open(target, os.O_RDONLY | os.O_DIRECTORY) if exists else None
            try:
                restorer.restore_nodes(root_fd, nodes, "")
            finally:
                if root_fd is not None:
                    os.close(root_fd)
        else:
            _restore_into(restorer, target, nodes)
        bar.complete()
    finally:
        bar.finish()
    return restorer.result


def _restore_into(restorer: Restorer, target: Path, nodes: list[Node]) -> None:
    try:
        target.mkdir(parents=True, exist_ok=True)
        root_fd = os.open(target, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        if exc.errno in FULL_ERRNOS:
            raise restorer.full(str(target)) from None
        raise RestoreWriteError(f"cannot create the target {target}: {exc.strerror}") from None
    try:
        with restorer.databases.scratch(target):
            restorer.restore_nodes(root_fd, nodes, "")
    except OSError as exc:
        if exc.errno in FULL_ERRNOS:
            raise restorer.full(str(target)) from None
        raise
    finally:
        os.close(root_fd)
