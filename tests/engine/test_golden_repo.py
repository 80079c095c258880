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
