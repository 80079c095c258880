"""Verify a restored folder against its snapshot by content — the check a restore's output names.

Rules:
- A plain file, and a page-mode database (restored byte for byte from the consistent copy the
  backup took — not from the live file, whose header counters differ), is read back in pieces
  of its blobs' lengths (from the index: nothing is downloaded); each piece's keyed blob ID
  must equal the snapshot's, and nothing may follow the last piece.
- A logical-mode database is rebuilt, so its bytes never match the original (page layout, free
  pages, header counters). It is compared by content: the snapshot's stream is rebuilt once more
  into a private temporary file (authenticated blobs, as a restore reads them) and the two
  databases' :func:`~coffer.sqlite.logical.canonical_digest` — schema, header pragmas and every
  row in key order, typed — must be equal. That costs a download and a rebuild of the database;
  the temporary file goes to the system's temporary folder (``TMPDIR``) and is removed.
- Symlinks compare by target, folders by being folders. Mode bits and mtimes are not compared
  (a user may have changed them since the restore).
- Every entry is opened relative to its folder with ``O_NOFOLLOW``: a symlink planted in the
  target is reported, never followed.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from coffer.engine.repository import Repository
from coffer.engine.snapshot import Node
from coffer.ops.restore import node_blobs
from coffer.sqlite.logical import canonical_digest
from coffer.sqlite.proc import ProcessRestore

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK


@dataclass
class VerifyReport:
    files: int = 0
    databases: int = 0
    problems: list[dict[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class Verifier:
    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        self.report = VerifyReport()

    def problem(self, rel: str, what: str) -> None:
        self.report.problems.append({"path": rel, "problem": what})

    def nodes(self, dir_fd: int, nodes: list[Node], prefix: str) -> None:
        for node in nodes:
            rel = prefix + node.name
            try:
                st = os.lstat(node.name, dir_fd=dir_fd)
            except FileNotFoundError:
                self.problem(rel, "missing")
                continue
            if node.type == "dir":
                self._dir(dir_fd, node, rel, st)
            elif node.type == "symlink":
                if not stat.S_ISLNK(st.st_mode):
                    self.problem(rel, "not a symlink")
                elif os.readlink(node.name, dir_fd=dir_fd) != node.target:
                    self.problem(rel, "points elsewhere")
            elif not stat.S_ISREG(st.st_mode):
                self.problem(rel, "not a regular file")
            else:
                self._file(dir_fd, node, rel)

    def _dir(self, dir_fd: int, node: Node, rel: str, st: os.stat_result) -> None:
        if not stat.S_ISDIR(st.st_mode):
            self.problem(rel, "not a folder")
            return
        fd = os.open(node.name, _DIR_FLAGS, dir_fd=dir_fd)
        try:
            self.nodes(fd, node.children, rel + "/")
        finally:
            os.close(fd)

    def _file(self, dir_fd: int, node: Node, rel: str) -> None:
        self.report.files += 1
        if node.format == "sqlite-logical":
            self.report.databases += 1
            self._database(dir_fd, node, rel)
            return
        if node.format == "sqlite-pages":
            self.report.databases += 1
        fd = os.open(node.name, _READ_FLAGS, dir_fd=dir_fd)
        with os.fdopen(fd, "rb") as fh:
            for bid in node.content:
                loc = self.repo.index.get(bid)
                if loc is None:
                    self.problem(rel, "the snapshot names a blob the index lacks")
                    return
                piece = fh.read(loc.raw_length)
                if len(piece) != loc.raw_length or self.repo.blob_id(piece) != bid:
                    self.problem(rel, "content differs from the snapshot")
                    return
            if fh.read(1):
                self.problem(rel, "longer than in the snapshot")

    def _database(self, dir_fd: int, node: Node, rel: str) -> None:
        restored = Path(f"/proc/self/fd/{dir_fd}") / node.name
        with tempfile.TemporaryDirectory(prefix="coffer-verify-") as tmp:
            rebuilt = Path(tmp) / "snapshot.db"
            with ProcessRestore(rebuilt, full_check=False) as child:
                for plain in node_blobs(self.repo, node):
                    child.write(plain)
                child.finish()
            expected = canonical_digest(rebuilt)
        try:
            found = canonical_digest(restored)
        except sqlite3.Error as exc:
            self.problem(rel, f"cannot be read as a database ({exc})")
            return
        if found != expected:
            self.problem(rel, "schema or rows differ from the snapshot")


def verify_restored(repo: Repository, nodes: list[Node], target: Path) -> VerifyReport:
    """Compare the entries ``nodes`` (a snapshot's tree, or a selection) below ``target``."""
    repo.ensure_index()
    verifier = Verifier(repo)
    fd = os.open(target, os.O_RDONLY | os.O_DIRECTORY)
    try:
        verifier.nodes(fd, nodes, "")
    finally:
        os.close(fd)
    return verifier.report
