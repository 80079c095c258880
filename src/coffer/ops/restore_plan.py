"""What a restore does with each entry: create it, replace what is there, or leave it.

Rules (restic's ``--overwrite`` semantics; the default is ``never``, so a restore into a folder
that already holds data changes nothing the user has without being asked):

==============  ===============================================================================
``never``       an existing entry is left as it is (counted *unchanged* if it matches the
                snapshot, else *kept*)
``if-changed``  an existing entry is replaced when it differs from the snapshot's: another type,
                size or mtime (a database: its mtime, or a ``-wal``/``-journal`` with content,
                since a restored database is not byte-identical and its size says nothing)
``if-newer``    replaced when the snapshot's mtime is newer than the existing entry's
``always``      replaced, even when it looks the same
==============  ===============================================================================

- An existing folder where the snapshot has a folder is merged, never replaced; an existing
  non-folder where the snapshot has a folder follows the table (a replaced file or symlink is
  removed, then the folder created). A folder is never removed to make room for a file: that
  entry is reported as not written.
- Symlinks compare by target.
- Pure functions over a :class:`~coffer.engine.snapshot.Node` and an ``os.stat_result``: the
  restore and its ``--dry-run`` take the same decisions.
"""

from __future__ import annotations

import os
import stat

from coffer.engine.snapshot import Node
from coffer.errors import UsageError

OVERWRITE_MODES = ("never", "if-changed", "if-newer", "always")
DEFAULT_OVERWRITE = "never"

CREATE = "create"
REPLACE = "replace"
UNCHANGED = "unchanged"
KEEP = "keep"
DELETE = "delete"
IN_USE = "in-use"


def check_mode(mode: str) -> str:
    if mode not in OVERWRITE_MODES:
        raise UsageError(f"--overwrite must be one of {', '.join(OVERWRITE_MODES)}, not {mode!r}")
    return mode


def is_database(node: Node) -> bool:
    return node.type == "file" and node.format.startswith("sqlite-")


def kind_of(st: os.stat_result) -> str:
    if stat.S_ISDIR(st.st_mode):
        return "dir"
    if stat.S_ISLNK(st.st_mode):
        return "symlink"
    if stat.S_ISREG(st.st_mode):
        return "file"
    return "other"


def looks_same(node: Node, st: os.stat_result, *, link: str = "", dirty: bool = False) -> bool:
    """Does the existing entry (``st``; ``link`` its target, ``dirty`` its database companions
    hold content) already match ``node``?"""
    if kind_of(st) != node.type:
        return False
    if node.type == "symlink":
        return link == node.target
    if node.type == "dir":
        return True
    if is_database(node):
        return st.st_mtime_ns == node.mtime_ns and not dirty
    return st.st_size == node.size and st.st_mtime_ns == node.mtime_ns


def decide(node: Node, st: os.stat_result | None, mode: str, *, same: bool) -> str:
    """``create``, ``replace``, ``unchanged`` or ``keep`` for ``node`` over ``st``."""
    if st is None:
        return CREATE
    if mode == "always":
        return REPLACE
    if same:
        return UNCHANGED
    if mode == "if-changed":
        return REPLACE
    if mode == "if-newer" and node.mtime_ns > st.st_mtime_ns:
        return REPLACE
    return KEEP
