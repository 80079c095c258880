"""Diff and stats on hand-made snapshots: each kind of change, and the counting rules."""

from __future__ import annotations

from coffer.engine.snapshot import Node, Snapshot
from coffer.ops.diff import diff
from coffer.ops.stats import restore_stats

B1, B2, B3 = b"\x01" * 32, b"\x02" * 32, b"\x03" * 32


def _snap(children: list[Node]) -> Snapshot:
    return Snapshot(
        "2026-01-01T00:00:00+00:00", "h", "u", ["/x"], [Node("x", "dir", children=children)]
    )


def _file(name: str, content: list[bytes], size: int, mode: int = 0o644, mtime: int = 1) -> Node:
    return Node(name, "file", mode=mode, mtime_ns=mtime, size=size, content=content)


def test_each_kind_of_change() -> None:
    before = _snap(
        [
            _file("same", [B1], 10),
            _file("touched", [B1], 10),
            _file("grown", [B1], 10),
            _file("chmod", [B1], 10),
            _file("gone", [B2], 20),
            Node("link", "symlink", target="a"),
            Node("becomes-dir", "file", size=5, content=[B3]),
            Node("olddir", "dir", children=[_file("inner", [B1], 10)]),
        ]
    )
    after = _snap(
        [
            _file("same", [B1], 10),
            _file("touched", [B1], 10, mtime=2),
            _file("grown", [B1, B2], 30),
            _file("chmod", [B1], 10, mode=0o600),
            _file("new", [B3], 7),
            Node("link", "symlink", target="b"),
            Node("becomes-dir", "dir"),
        ]
    )
    result = diff(before, after)
    got = {c.path: (c.kind, c.size_before, c.size_after, c.metadata_only) for c in result.changes}
    assert got == {
        "x/touched": ("modified", 10, 10, True),
        "x/grown": ("modified", 10, 30, False),
        "x/chmod": ("modified", 10, 10, False),
        "x/gone": ("removed", 20, 0, False),
        "x/new": ("added", 0, 7, False),
        "x/link": ("modified", 0, 0, False),
        "x/becomes-dir": ("modified", 5, 0, False),
        "x/olddir": ("removed", 0, 0, False),
        "x/olddir/inner": ("removed", 10, 0, False),
    }
    assert [c.path for c in result.changes] == sorted(got)
    assert result.bytes_added == 20 + 7 and result.bytes_removed == 20 + 5 + 10
    assert diff(after, after).changes == []


def test_restore_stats_count_every_snapshot() -> None:
    snap = _snap([_file("a", [B1], 10), Node("d", "dir", children=[_file("b", [B2], 5)])])
    stats = restore_stats([snap, snap])
    assert (stats.snapshots, stats.files, stats.dirs, stats.bytes) == (2, 4, 4, 30)
