"""Make the golden repository ``tests/vectors/golden-repo-v1`` (run once; its output is committed).

Every later version of Coffer must still open this repository with the recovery key recorded in
``tests/vectors/golden-repo-v1.json`` and restore exactly the recorded files. Object IDs and
nonces are random, so re-running this script makes a *different* (equally valid) repository:
do not re-run it to "update" the vector; add a new versioned one instead.

Usage: python scripts/make_golden_repo.py [--force]
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import sqlite3
import sys
import tempfile
from pathlib import Path

from coffer.backends.local import LocalBackend
from coffer.cli.verify import table_digest
from coffer.crypto.recovery import RecoveryKey
from coffer.crypto.slots import SlotKind
from coffer.engine.repository import Repository
from coffer.ops.backup import BackupOptions, backup

ROOT = Path(__file__).resolve().parent.parent / "tests" / "vectors"
REPO = ROOT / "golden-repo-v1"
META = ROOT / "golden-repo-v1.json"
MTIME = 1_700_000_000_000_000_000


def make_source(root: Path) -> None:
    rng = random.Random(2026)
    (root / "media" / "Voice Notes").mkdir(parents=True)
    db = sqlite3.connect(root / "msgstore.db")
    db.execute("CREATE TABLE chats(id INTEGER PRIMARY KEY, title TEXT)")
    db.execute(
        "CREATE TABLE messages(id INTEGER PRIMARY KEY, chat INT, ts INT, body TEXT, key BLOB)"
    )
    db.execute("CREATE INDEX by_chat ON messages(chat, ts)")
    db.execute("CREATE TABLE receipts(key BLOB, who INT, PRIMARY KEY(key, who)) WITHOUT ROWID")
    db.executemany("INSERT INTO chats VALUES (?, ?)", [(1, "Family 👪"), (2, "Ünïcode ✓")])
    rows = [
        (i, 1 + i % 2, 1_700_000_000 + i, f"message {i} 🙂" * (1 + i % 5), rng.randbytes(16))
        for i in range(500)
    ]
    db.executemany("INSERT INTO messages VALUES (?, ?, ?, ?, ?)", rows)
    db.executemany("INSERT INTO receipts VALUES (?, ?)", [(r[4], 7) for r in rows[:100]])
    db.commit()
    db.close()
    (root / "media" / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0" + rng.randbytes(40_000))
    (root / "media" / "Voice Notes" / "note.opus").write_bytes(b"OggS" + rng.randbytes(20_000))
    (root / "notes.txt").write_text("golden repository v1\n" * 200)
    os.symlink("media/photo.jpg", root / "latest.jpg")
    for p in sorted(root.rglob("*"), reverse=True):
        os.utime(p, ns=(MTIME, MTIME), follow_symlinks=False)
    os.utime(root, ns=(MTIME, MTIME))


def main() -> int:
    if REPO.exists() and "--force" not in sys.argv:
        print(f"{REPO} exists; refusing to replace a committed vector (use --force)")
        return 1
    shutil.rmtree(REPO, ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "chatstore"
        src.mkdir()
        make_source(src)
        repo = Repository.init(LocalBackend(REPO))
        key = RecoveryKey.generate()
        repo.add_slot(SlotKind.RECOVERY, key.secret)
        snap = backup(repo, [src], BackupOptions(hostname="golden")).snapshot
        files = {}
        for p in sorted(src.rglob("*")):
            rel = str(p.relative_to(src.parent))
            if p.is_symlink():
                files[rel] = {"symlink": os.readlink(p)}
            elif p.is_file() and p.name != "msgstore.db":
                files[rel] = {
                    "sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
                    "mode": p.stat().st_mode & 0o7777,
                    "mtime_ns": p.stat().st_mtime_ns,
                }
        meta = {
            "format_version": 1,
            "generator": "scripts/make_golden_repo.py",
            "recovery_key": key.display(),
            "snapshot": snap.id,
            "files": files,
            "databases": {"chatstore/msgstore.db": table_digest(src / "msgstore.db")},
        }
    META.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    print(f"wrote {REPO} and {META}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
