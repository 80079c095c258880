"""Restore: write a snapshot (or one path of it) into a target folder, safely.

Rules:
- Nothing outside the target is ever written: every path component is opened relative to its
  parent's directory descriptor with ``O_NOFOLLOW``, so neither ``..`` (rejected by
  :func:`~coffer.engine.snapshot.check_component`) nor a symlink — planted by the snapshot or
  already in the target — can redirect a write. Symlinks are created, never followed.
- Only authenticated plaintext is written. A file is written under a temporary name and renamed
  into place only when every blob verified; a file with a damaged blob is removed and reported,
  and the restore continues (or stops at once with ``strict``).
- Contents, mode bits and mtimes are restored; directories get their mode and mtime after their
  children are written.
- Blobs that sit next to each other in a pack are fetched with one ranged read.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from coffer.backends.base import BackendError, ObjectType
from coffer.engine.errors import PathNotInSnapshot, RestoreWriteError, UnsafePath
from coffer.engine.index import Location
from coffer.engine.progress import Progress
from coffer.engine.repository import Repository
from coffer.engine.snapshot import Node, Snapshot, check_component, find
from coffer.errors import IntegrityError
from coffer.ops.restore_db import DatabaseRebuilds

MAX_RUN = 16 * 1024 * 1024
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


@dataclass
class RestoreResult:
    files: int = 0
    dirs: int = 0
    symlinks: int = 0
    bytes: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)


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


class Restorer:
    """Writes nodes below an open directory descriptor."""

    def __init__(self, repo: Repository, progress: Progress, strict: bool) -> None:
        self.repo = repo
        self.progress = progress
        self.strict = strict
        self.result = RestoreResult()
        self.databases = DatabaseRebuilds(self)

    def restore_nodes(self, dir_fd: int, nodes: list[Node], prefix: str) -> None:
        links = []
        databases = [
            self.databases.start(node, f"{prefix}{check_component(node.name)}")
            for node in nodes
            if node.type == "file" and node.format == "sqlite-logical"
        ]
        try:
            for node in nodes:
                name = check_component(node.name)
                if node.type == "symlink":
                    links.append(node)
                elif node.type == "dir":
                    self._restore_dir(dir_fd, node, f"{prefix}{name}")
                elif node.type == "file" and node.format != "sqlite-logical":
                    self._restore_file(dir_fd, node, f"{prefix}{name}")
        finally:
            for job in databases:
                job.thread.join()
        for job in databases:
            self.databases.finish(dir_fd, job)
        for node in links:  # after files and dirs, so no write can pass through them
            self._restore_symlink(dir_fd, node, f"{prefix}{node.name}")

    def _restore_dir(self, parent_fd: int, node: Node, rel: str) -> None:
        with contextlib.suppress(FileExistsError):
            os.mkdir(node.name, 0o700, dir_fd=parent_fd)
        try:
            fd = os.open(node.name, _DIR_FLAGS, dir_fd=parent_fd)
        except OSError as exc:
            raise UnsafePath(
                f"{rel}: exists in the target and is not a directory ({exc.strerror})"
            ) from None
        try:
            self.restore_nodes(fd, node.children, rel + "/")
            os.chmod(fd, stat.S_IMODE(node.mode))
            os.utime(fd, ns=(node.mtime_ns, node.mtime_ns))
        finally:
            os.close(fd)
        self.result.dirs += 1

    def _restore_file(self, dir_fd: int, node: Node, rel: str) -> None:
        # a fixed-length name: a long (legal) non-ASCII name plus a suffix could exceed 255 bytes
        tmp = f".coffer-partial-{secrets.token_hex(8)}"
        fd = os.open(tmp, _FILE_FLAGS | os.O_EXCL, 0o600, dir_fd=dir_fd)
        try:
            written = 0
            with os.fdopen(fd, "wb", closefd=False) as out:
                for plain in self.blobs(node):
                    out.write(plain)
                    written += len(plain)
            os.chmod(fd, stat.S_IMODE(node.mode))
            os.utime(fd, ns=(node.mtime_ns, node.mtime_ns))
            os.close(fd)
            fd = -1
            unlink_if_symlink(dir_fd, node.name)
            os.rename(tmp, node.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except (IntegrityError, BackendError) as exc:
            self._discard(fd, dir_fd, tmp)
            self.fail(rel, exc)
            return
        except OSError as exc:
            self._discard(fd, dir_fd, tmp)
            self.fail(rel, RestoreWriteError(f"{rel}: cannot be written ({exc.strerror})"))
            return
        except BaseException:
            self._discard(fd, dir_fd, tmp)
            raise
        self.result.files += 1
        self.result.bytes += written
        self.progress.file_done(rel)

    @staticmethod
    def _discard(fd: int, dir_fd: int, tmp: str) -> None:
        """Close and remove an unfinished temporary file: no partial file stays behind."""
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dir_fd)

    def blobs(self, node: Node) -> Iterator[bytes]:
        for run in _runs(self.repo, node.content):
            for plain in _read_run(self.repo, run):
                self.progress.advance(len(plain))
                yield plain

    def fail(self, rel: str, exc: Exception) -> None:
        self.result.errors.append({"path": rel, "error": str(exc)})
        self.progress.warn(f"not restored: {rel}: {exc}")
        if self.strict:
            raise exc

    def _restore_symlink(self, dir_fd: int, node: Node, rel: str) -> None:
        try:
            os.symlink(node.target, node.name, dir_fd=dir_fd)
        except FileExistsError:
            self.result.errors.append({"path": rel, "error": "a file of that name already exists"})
            return
        with contextlib.suppress(OSError, NotImplementedError):
            os.utime(
                node.name, ns=(node.mtime_ns, node.mtime_ns), dir_fd=dir_fd, follow_symlinks=False
            )
        self.result.symlinks += 1


def unlink_if_symlink(dir_fd: int, name: str) -> None:
    """A rename replaces a link rather than writing through it; remove it to be explicit."""
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISLNK(os.lstat(name, dir_fd=dir_fd).st_mode):
            os.unlink(name, dir_fd=dir_fd)


def _total_bytes(nodes: list[Node]) -> tuple[int, int]:
    total = files = 0
    for node in nodes:
        if node.type == "file":
            total, files = total + node.size, files + 1
        elif node.type == "dir":
            t, f = _total_bytes(node.children)
            total, files = total + t, files + f
    return total, files


def restore(
    repo: Repository,
    snap: Snapshot,
    target: Path,
    *,
    path: str | None = None,
    strict: bool = False,
    progress: Progress | None = None,
) -> RestoreResult:
    """Restore ``snap`` (or the subtree at ``path``) below ``target``."""
    progress = progress or Progress()
    repo.ensure_index()
    nodes = snap.tree
    if path:
        node = find(snap.tree, path)
        if node is None:
            raise PathNotInSnapshot(f"{path!r} is not in snapshot {snap.id[:8]}")
        nodes = [node]
    target.mkdir(parents=True, exist_ok=True)
    restorer = Restorer(repo, progress, strict)
    total, files = _total_bytes(nodes)
    progress.start(total, files, "restore")
    root_fd = os.open(target, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with restorer.databases.scratch(target):
            restorer.restore_nodes(root_fd, nodes, "")
    finally:
        os.close(root_fd)
        progress.finish()
    return restorer.result
