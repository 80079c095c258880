"""The golden repository (format v1, made once by scripts/make_golden_repo.py) must keep working."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from coffer.backends.local import LocalBackend
from coffer.cli.verify import integrity_ok, table_digest
from coffer.crypto.recovery import RecoveryKey
from coffer.crypto.slots import SlotKind
from coffer.engine.repository import Repository
from coffer.ops.check import check
from coffer.ops.restore import restore

VECTORS = Path(__file__).resolve().parent.parent / "vectors"


def test_golden_repository_v1_opens_checks_and_restores(tmp_path: Path) -> None:
    meta = json.loads((VECTORS / "golden-repo-v1.json").read_text())
    repo_dir = tmp_path / "golden"
    shutil.copytree(VECTORS / "golden-repo-v1", repo_dir)
    key = RecoveryKey.parse(meta["recovery_key"])
    repo = Repository.open(LocalBackend(repo_dir), SlotKind.RECOVERY, key.secret)
    repo.load_index()
    report = check(repo, read_data=True)
    assert report.ok and report.packs_read >= 1, report.errors
    snap = repo.load_snapshot(meta["snapshot"])
    target = tmp_path / "out"
    result = restore(repo, snap, target)
    assert result.errors == []
    for rel, want in meta["files"].items():
        path = target / rel
        if "symlink" in want:
            assert os.readlink(path) == want["symlink"]
            continue
        assert hashlib.sha256(path.read_bytes()).hexdigest() == want["sha256"], rel
        assert path.stat().st_mtime_ns == want["mtime_ns"], rel
        assert path.stat().st_mode & 0o7777 == want["mode"], rel
    for rel, digest in meta["databases"].items():
        assert integrity_ok(target / rel)
        assert table_digest(target / rel) == digest


def _check_restored(target: Path, want: dict[str, dict[str, object]]) -> None:
    for rel, entry in want["files"].items():
        path = target / rel
        if "symlink" in entry:
            assert os.readlink(path) == entry["symlink"]
            continue
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"], rel
        assert path.stat().st_mtime_ns == entry["mtime_ns"], rel
        assert path.stat().st_mode & 0o7777 == entry["mode"], rel
    for rel, digest in want["databases"].items():
        assert integrity_ok(target / rel)
        assert table_digest(target / rel) == digest


def test_golden_repository_v2_opens_checks_and_restores(tmp_path: Path) -> None:
    """Format v2 as first written (scripts/make_golden_repo_v2.py): byte names, an incremental
    logical database snapshot, a page-mode one, and an owner's forget record."""
    meta = json.loads((VECTORS / "golden-repo-v2.json").read_text())
    repo_dir = tmp_path / "golden"
    shutil.copytree(VECTORS / "golden-repo-v2", repo_dir)
    key = RecoveryKey.parse(meta["recovery_key"])
    repo = Repository.open(LocalBackend(repo_dir), SlotKind.RECOVERY, key.secret)
    assert repo.format_version == 2
    repo.load_index()
    report = check(repo, read_data=True)
    assert report.ok and report.packs_read >= 1, report.errors

    listing = repo.list_manifests()
    assert not listing.damaged
    assert sorted(listing.snapshots) == sorted(s["id"] for s in meta["snapshots"])
    forget = listing.forgets[meta["forget"]["id"]]
    assert (forget.writer, forget.seq) == (meta["forget"]["writer"], meta["forget"]["seq"])
    assert [(r.id, r.writer, r.seq) for r in forget.removed] == [
        (r["id"], r["writer"], r["seq"]) for r in meta["forget"]["removed"]
    ]
    writer = meta["forget"]["writer"]
    assert listing.newest_seqs() == {writer: meta["forget"]["seq"]}

    names = set()
    for i, want in enumerate(meta["snapshots"]):
        snap = repo.load_snapshot(want["id"])
        assert (snap.writer, snap.seq) == (want["writer"], want["seq"])
        target = tmp_path / f"out{i}"
        result = restore(repo, snap, target)
        assert result.errors == [], want["label"]
        _check_restored(target, want)
        names |= {os.fsencode(p.name) for p in (target / "chatstore").iterdir()}
    assert {b"caf\xe9 (latin-1).txt", b"back\\slash.txt", b"\xff\xfe not utf-8"} <= names
