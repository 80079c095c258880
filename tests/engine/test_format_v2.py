"""Repository format v2: tree stream, snapshot objects, forget records, and the v1 → v2 path."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coffer.backends.base import ObjectType
from coffer.backends.local import LocalBackend
from coffer.crypto.recovery import RecoveryKey
from coffer.crypto.slots import SlotKind
from coffer.engine.manifest import decode_manifest
from coffer.engine.repository import Repository
from coffer.engine.snapshot import ForgetRecord, Node, RemovedSnapshot, Snapshot, walk
from coffer.engine.tree import decode_tree, encode_tree
from coffer.errors import IntegrityError, RepositoryError
from coffer.ops.backup import backup
from coffer.ops.restore import restore

from .cli_support import run_cli
from .conftest import RepoHandle, make_tree

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def _generator() -> object:
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen_v2", SCRIPTS / "gen_format_v2_vectors.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# -- vectors --------------------------------------------------------------------------------
def test_vectors_are_current_and_match_the_documented_layout() -> None:
    gen = _generator()
    want = json.loads((VECTORS / "format-v2.json").read_text())
    assert gen.build() == want  # type: ignore[attr-defined]
    stream = bytes.fromhex(want["tree"]["stream"])
    assert hashlib.sha256(stream).hexdigest() == want["tree"]["sha256"]
    assert b"".join(bytes.fromhex(p) for p in want["tree"]["pieces"]) == stream
    # an untyped reader sees the layout docs/design.md gives: ["coffer-tree", 2, [node...]]
    magic, version, nodes = msgspec.msgpack.decode(stream)
    assert (magic, version) == ("coffer-tree", 2)
    root = nodes[0]
    assert root[0] == b"chat-store" and root[1] == 0 and len(root) == 12
    db, media = root[11]
    assert (
        db[0] == b"msgstore.db" and db[7] == "sqlite-logical" and db[10] == {"stream_bytes": 4096}
    )
    photo, link = media[11]
    assert photo[0] == b"caf\xe9 \\ photo.jpg" and len(photo[8]) == 64
    assert link[1] == 2 and link[9] == b"caf\xe9 \\ photo.jpg"
    snap = msgspec.msgpack.decode(bytes.fromhex(want["snapshot"]["msgpack"]))
    assert snap["kind"] == "snapshot" and snap["v"] == 2 and snap["seq"] == 7
    assert snap["paths"] == [b"/home/alice/chat-store"]
    assert snap["skipped"][0]["path"] == b"/home/alice/chat-store/\xff.tmp"
    assert [t.hex() for t in snap["tree"]] == want["tree"]["blob_ids"]
    forget = msgspec.msgpack.decode(bytes.fromhex(want["forget"]["msgpack"]))
    assert forget["kind"] == "forget" and forget["removed"][0]["seq"] == 5


def test_vectors_decode_to_the_model() -> None:
    gen = _generator()
    want = json.loads((VECTORS / "format-v2.json").read_text())
    tree = decode_tree(bytes.fromhex(want["tree"]["stream"]))
    assert _shape(tree) == _shape(gen.sample_tree())  # type: ignore[attr-defined]
    import zstandard

    def opened(hexdata: str) -> bytes:
        return zstandard.ZstdCompressor().compress(bytes.fromhex(hexdata))

    snap = decode_manifest(opened(want["snapshot"]["msgpack"]), "11" * 32)
    assert isinstance(snap, Snapshot) and snap.seen == {gen.WRITER_A: 6, gen.WRITER_B: 3}  # type: ignore[attr-defined]
    assert snap.skipped[0]["path"] == os.fsdecode(b"/home/alice/chat-store/\xff.tmp")
    rec = decode_manifest(opened(want["forget"]["msgpack"]), "22" * 32)
    assert isinstance(rec, ForgetRecord) and rec.removed[0].id == "cd" * 32


def _shape(nodes: list[Node]) -> list[tuple[object, ...]]:
    fields = ("type", "mode", "mtime_ns", "size", "inode", "ctime_ns", "format", "content")
    return [(p, *(getattr(n, f) for f in fields), n.target, n.extra) for p, n in walk(nodes)]


# -- the tree stream --------------------------------------------------------------------------
_names = st.binary(min_size=1, max_size=60).filter(
    lambda b: b"/" not in b and b"\x00" not in b and b not in (b".", b"..")
)


@st.composite
def _trees(draw: st.DrawFn, depth: int = 0) -> list[Node]:
    names = draw(st.lists(_names, max_size=5, unique=True))
    out = []
    for raw in names:
        name = os.fsdecode(raw)
        kind = draw(st.sampled_from(["file", "symlink", "dir"] if depth < 3 else ["file"]))
        node = Node(name=name, type=kind, mode=draw(st.integers(0, 0o7777)))
        node.mtime_ns = draw(st.integers(0, 2**63 - 1))
        if kind == "file":
            node.size = draw(st.integers(0, 2**40))
            node.content = draw(st.lists(st.binary(min_size=32, max_size=32), max_size=3))
        elif kind == "symlink":
            node.target = os.fsdecode(draw(st.binary(min_size=1, max_size=80)))
        else:
            node.children = draw(_trees(depth + 1))
        out.append(node)
    return out


@settings(max_examples=150, deadline=None)
@given(_trees())
def test_tree_stream_round_trips_any_byte_names(tree: list[Node]) -> None:
    data = encode_tree(tree)
    back = decode_tree(data)
    assert _shape(back) == _shape(tree)
    assert [os.fsencode(n.name) for _p, n in walk(back)] == [
        os.fsencode(n.name) for _p, n in walk(tree)
    ]
    assert encode_tree(back) == data  # canonical


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        b"\x93\xabcoffer-tree\x01\x90",  # version 1
        b"\x93\xa4nope\x02\x90",
        msgspec.msgpack.encode(
            ["coffer-tree", 2, [[b"..", 0, 0, 0, 0, 0, 0, "", b"", b"", {}, []]]]
        ),
        msgspec.msgpack.encode(
            ["coffer-tree", 2, [[b"a", 7, 0, 0, 0, 0, 0, "", b"", b"", {}, []]]]
        ),
        msgspec.msgpack.encode(
            ["coffer-tree", 2, [[b"a", 1, 0, 0, 0, 0, 0, "file", b"x" * 31, b"", {}, []]]]
        ),
    ],
)
def test_malformed_tree_streams_are_integrity_errors(bad: bytes) -> None:
    with pytest.raises(IntegrityError):
        decode_tree(bad)


# -- through a repository ---------------------------------------------------------------------
def test_snapshot_objects_are_small_and_unchanged_trees_store_nothing_new(
    repo_handle: RepoHandle, tmp_path: Path
) -> None:
    src = make_tree(tmp_path / "src")
    for i in range(3000):  # a media folder big enough for a tree of several pieces
        (src / "media" / f"IMG-{i:05d}.jpg").write_bytes(b"\xff\xd8" + i.to_bytes(4, "big"))
    repo = repo_handle.open()
    first = backup(repo, [src]).snapshot
    second = backup(repo_handle.open(), [src]).snapshot
    assert first.tree_blobs == second.tree_blobs  # same tree, same pieces: deduplicated
    assert second.summary["bytes_new"] == 0
    size = repo.backend.stat(ObjectType.SNAPSHOTS, second.id)
    assert size < 2048, size  # the tree is not inside the object
    (src / "media" / "IMG-01500.jpg").write_bytes(b"\xff\xd8changed")
    third = backup(repo_handle.open(), [src]).snapshot
    shared = set(third.tree_blobs) & set(second.tree_blobs)
    assert shared and len(shared) < len(third.tree_blobs)  # one changed file: few new pieces


def test_non_utf8_and_backslash_names_restore_byte_exact(
    repo_handle: RepoHandle, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    names = [b"caf\xe9.jpg", b"back\\slash.txt", b"\xff\xfe", "ünï".encode()]
    for raw in names:
        with open(os.path.join(os.fsencode(src), raw), "wb") as fh:
            fh.write(raw * 3)
    os.symlink(b"caf\xe9.jpg", os.path.join(os.fsencode(src), b"link\x80"))
    result = backup(repo_handle.open(), [src])
    assert result.skipped == []
    repo = repo_handle.open()
    restore(repo, repo.load_snapshot(result.snapshot.id), tmp_path / "out")
    out = os.fsencode(tmp_path / "out" / "src")
    assert sorted(os.listdir(out)) == sorted([*names, b"link\x80"])
    for raw in names:
        with open(os.path.join(out, raw), "rb") as fh:
            assert fh.read() == raw * 3
    assert os.readlink(os.path.join(out, b"link\x80")) == b"caf\xe9.jpg"


def test_a_tree_blob_that_does_not_add_up_is_an_integrity_error(
    repo_handle: RepoHandle, tmp_path: Path
) -> None:
    src = make_tree(tmp_path / "src")
    repo = repo_handle.open()
    snap = backup(repo, [src]).snapshot
    forged = Snapshot(
        snap.time, snap.hostname, snap.username, snap.paths,
        tree_blobs=snap.tree_blobs, tree_bytes=snap.tree_bytes + 1,
    )  # fmt: skip
    oid = repo.save_snapshot(forged)
    with pytest.raises(IntegrityError, match="do not add up"):
        _ = repo_handle.open().load_snapshot(oid).tree


def test_forget_records_are_listed_apart_from_snapshots(
    repo_handle: RepoHandle, tmp_path: Path
) -> None:
    src = make_tree(tmp_path / "src")
    snap = backup(repo_handle.open(), [src]).snapshot
    other = repo_handle.open()  # another writer (its own clock) forgets it
    gone = RemovedSnapshot(snap.id, snap.writer, snap.seq, snap.time)
    rec = ForgetRecord(time=snap.time, hostname="h", writer="", seq=0, removed=[gone])
    rid = other.save_forget_record(rec)
    other.remove_snapshot(snap.id)
    again = repo_handle.open()
    listing = again.list_manifests()
    assert list(listing.forgets) == [rid] and listing.snapshots == {}
    assert again.snapshot_ids() == []
    assert rec.writer == other.clock.writer != snap.writer and rec.seq == 1
    assert rec.seen == {snap.writer: snap.seq}  # what the forgetting writer had seen
    # the forgotten snapshot's counter still counts for its writer: no rollback is suggested
    assert listing.newest_seqs() == {snap.writer: snap.seq, rec.writer: rec.seq}


# -- format v1 → v2 -----------------------------------------------------------------------------
def _golden_copy(tmp_path: Path) -> tuple[Path, RecoveryKey, dict[str, object]]:
    meta = json.loads((VECTORS / "golden-repo-v1.json").read_text())
    repo_dir = tmp_path / "golden"
    shutil.copytree(VECTORS / "golden-repo-v1", repo_dir)
    return repo_dir, RecoveryKey.parse(str(meta["recovery_key"])), meta


def test_a_v1_repository_is_read_but_not_written_until_migrated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo_dir, key, meta = _golden_copy(tmp_path)
    repo = Repository.open(LocalBackend(repo_dir), SlotKind.RECOVERY, key.secret)
    assert repo.format_version == 1
    src = make_tree(tmp_path / "src")
    with pytest.raises(RepositoryError, match="coffer migrate") as refused:
        backup(repo, [src])
    assert refused.value.exit_code == 10
    monkeypatch.setenv("COFFER_REPO", str(repo_dir))
    monkeypatch.setenv("COFFER_RECOVERY_KEY", key.display())
    run = run_cli(capsys, "migrate")
    assert run.code == 0 and "upgraded from format v1 to v2" in run.out, run.err
    assert run_cli(capsys, "migrate").out.startswith("repository is already format v2")
    repo = Repository.open(LocalBackend(repo_dir), SlotKind.RECOVERY, key.secret)
    assert repo.format_version == 2
    new = backup(repo, [src]).snapshot
    repo = Repository.open(LocalBackend(repo_dir), SlotKind.RECOVERY, key.secret)
    assert sorted(repo.snapshot_ids()) == sorted([str(meta["snapshot"]), new.id])
    old = repo.load_snapshot(str(meta["snapshot"]))
    assert old.version == 1
    assert restore(repo, old, tmp_path / "out-old").errors == []
    assert restore(repo, repo.load_snapshot(new.id), tmp_path / "out-new").errors == []
