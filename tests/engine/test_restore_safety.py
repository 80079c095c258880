"""A hostile snapshot can never make restore write outside the target."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from coffer.engine.errors import UnsafePath
from coffer.engine.snapshot import Node, Snapshot, check_component
from coffer.errors import IntegrityError
from coffer.ops.restore import restore

from .conftest import RepoHandle


def _snapshot(tree: list[Node]) -> Snapshot:
    return Snapshot(
        time="2026-01-01T00:00:00+00:00", hostname="evil", username="", paths=["/x"], tree=tree
    )


def _file(repo, name: str, data: bytes) -> Node:  # type: ignore[no-untyped-def]
    from coffer.engine.uploader import Uploader

    up = Uploader(repo)
    bid = repo.blob_id(data)
    up.add(bid, data, try_compress=False)
    up.finish()
    return Node(name=name, type="file", mode=0o644, size=len(data), content=[bid])


@pytest.mark.parametrize("name", ["..", ".", "a/b", "../../etc", "", "x\x00y"])
def test_unsafe_names_are_rejected_when_the_snapshot_is_read(
    repo_handle: RepoHandle, name: str
) -> None:
    repo = repo_handle.open()
    oid = repo.save_snapshot(_snapshot([Node(name=name, type="dir")]))
    with pytest.raises(IntegrityError):
        _ = repo_handle.open().load_snapshot(oid).tree  # format v2: the tree is read lazily
    with pytest.raises(UnsafePath):
        check_component(name)


def test_symlink_then_dir_of_same_name_cannot_escape(
    repo_handle: RepoHandle, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    repo = repo_handle.open()
    payload = _file(repo, "pwned", b"evil")
    tree = [
        Node(name="link", type="symlink", target=str(outside)),
        Node(name="link", type="dir", mode=0o755, children=[payload]),
    ]
    snap = repo.load_snapshot(repo.save_snapshot(_snapshot(tree)))
    target = tmp_path / "target"
    result = restore(repo_handle.open(), snap, target)
    assert list(outside.iterdir()) == []
    assert (target / "link" / "pwned").read_bytes() == b"evil"  # the dir won, the link did not
    assert result.errors and result.errors[0]["path"] == "link"


def test_symlink_already_in_target_is_not_followed(repo_handle: RepoHandle, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    target = tmp_path / "target"
    target.mkdir()
    os.symlink(outside, target / "dir")
    os.symlink(outside / "victim", target / "file")
    repo = repo_handle.open()
    f1 = _file(repo, "file", b"data")
    inner = _file(repo, "inner", b"data")
    snap_dir = repo.load_snapshot(
        repo.save_snapshot(_snapshot([Node(name="dir", type="dir", children=[inner])]))
    )
    with pytest.raises(UnsafePath):
        restore(repo_handle.open(), snap_dir, target)
    snap_file = repo.load_snapshot(repo.save_snapshot(_snapshot([f1])))
    restore(repo_handle.open(), snap_file, target)
    assert list(outside.iterdir()) == []
    assert not (target / "file").is_symlink() and (target / "file").read_bytes() == b"data"
