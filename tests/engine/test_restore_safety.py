"""A hostile snapshot can never make restore write outside the target."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from coffer.engine.errors import UnsafePath
from coffer.engine.snapshot import Node, Snapshot, check_component
from coffer.errors import IntegrityError
from coffer.ops.restore import RestoreOptions, restore

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


@pytest.mark.parametrize("overwrite", ["never", "if-changed", "always"])
def test_symlink_already_in_target_is_not_followed(
    repo_handle: RepoHandle, tmp_path: Path, overwrite: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    target = tmp_path / "target"
    target.mkdir()
    os.symlink(outside, target / "dir")
    os.symlink(outside / "victim", target / "file")
    repo = repo_handle.open()
    f1 = _file(repo, "file", b"data")
    inner = _file(repo, "inner", b"data")
    snap = repo.load_snapshot(
        repo.save_snapshot(_snapshot([Node(name="dir", type="dir", children=[inner]), f1]))
    )
    result = restore(repo_handle.open(), snap, target, options=RestoreOptions(overwrite=overwrite))
    assert list(outside.iterdir()) == []  # whatever the mode: nothing written through a link
    if overwrite == "never":  # the links are the user's: kept, and said so
        assert sorted(result.actions) == [("keep", "dir"), ("keep", "file")]
        assert (target / "dir").is_symlink() and (target / "file").is_symlink()
    else:  # replaced by what the snapshot has, never written through
        assert (
            not (target / "dir").is_symlink() and (target / "dir" / "inner").read_bytes() == b"data"
        )
        assert not (target / "file").is_symlink() and (target / "file").read_bytes() == b"data"
