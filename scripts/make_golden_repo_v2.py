"""Make the golden repository ``tests/vectors/golden-repo-v2`` (run once; its output is committed).

Format v2 in one small repository, so that every later version of Coffer must still read all of
it: snapshot objects (MessagePack, writer/seq/seen), trees stored as blobs, names that are not
UTF-8 and names with a backslash, an incremental logical database snapshot that reuses the
previous snapshot's segments (SQLite stream v2), a page-mode database snapshot, and an owner's
forget record. The recovery key, snapshot IDs and every expected file digest and table digest are
recorded in ``tests/vectors/golden-repo-v2.json``; ``tests/engine/test_golden_repo.py`` opens,
checks and restores it.

Object IDs and nonces are random, so re-running this script makes a *different* (equally valid)
repository: do not re-run it to "update" the vector; add a new versioned one instead.

Usage: python scripts/make_golden_repo_v2.py [--force]
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
from datetime import UTC, datetime
from pathlib import Path

from coffer.backends.local import LocalBackend
from coffer.cli.verify import table_digest
from coffer.crypto.recovery import RecoveryKey
from coffer.crypto.slots import SlotKind
from coffer.engine.repository import Repository
from coffer.engine.snapshot import ForgetRecord, RemovedSnapshot
from coffer.ops.backup import BackupOptions, backup

ROOT = Path(__file__).resolve().parent.parent / "tests" / "vectors"
REPO = ROOT / "golden-repo-v2"
META = ROOT / "golden-repo-v2.json"
MTIME = 1_750_000_000_000_000_000
ODD_NAMES = [b"caf\xe9 (latin-1).txt", b"back\\slash.txt", b"\xff\xfe not utf-8"]


def _touch_all(root: Path) -> None:
    for p in sorted(root.rglob("*"), reverse=True):
        os.utime(p, ns=(MTIME, MTIME), follow_symlinks=False)
    os.utime(root, ns=(MTIME, MTIME))


def make_source(root: Path) -> None:
    rng = random.Random(2027)
    (root / "media" / "Voice Notes").mkdir(parents=True)
    db = sqlite3.connect(root / "msgstore.db")
    db.execute("PRAGMA page_size = 4096")
    db.execute("CREATE TABLE chats(id INTEGER PRIMARY KEY, title TEXT)")
    db.execute(
        "CREATE TABLE messages(id INTEGER PRIMARY KEY, chat INT, ts INT, body TEXT, key BLOB)"
    )
    db.execute("CREATE INDEX by_chat ON messages(chat, ts)")
    db.execute("CREATE TABLE receipts(key BLOB, who INT, PRIMARY KEY(key, who)) WITHOUT ROWID")
    db.execute("CREATE VIRTUAL TABLE search USING fts5(body)")
    db.executemany("INSERT INTO chats VALUES (?, ?)", [(1, "Family 👪"), (2, "Ünïcode ✓")])
    rows = [
        (i, 1 + i % 2, 1_750_000_000 + i, f"message {i} 🙂 " * (1 + i % 7), rng.randbytes(16))
        for i in range(3000)
    ]
    db.executemany("INSERT INTO messages VALUES (?, ?, ?, ?, ?)", rows)
    db.executemany("INSERT INTO receipts VALUES (?, ?)", [(r[4], 7) for r in rows[:300]])
    db.executemany("INSERT INTO search VALUES (?)", [(r[3],) for r in rows[:200]])
    db.execute("INSERT INTO messages VALUES (9000, 1, 0, ?, NULL)", ("x" * 20_000,))  # overflow
    db.commit()
    db.close()
    (root / "media" / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0" + rng.randbytes(300_000))
    (root / "media" / "Voice Notes" / "note.opus").write_bytes(b"OggS" + rng.randbytes(20_000))
    (root / "media" / "empty.bin").write_bytes(b"")
    (root / "notes.txt").write_text("golden repository v2\n" * 200)
    for i, name in enumerate(ODD_NAMES):
        (root / os.fsdecode(name)).write_bytes(b"odd name %d\n" % i)
    os.chmod(root / "notes.txt", 0o600)
    os.symlink("media/photo.jpg", root / "latest.jpg")
    _touch_all(root)


def next_day(root: Path) -> None:
    """A day's change: new and edited messages, one deleted, one new photo."""
    db = sqlite3.connect(root / "msgstore.db")
    db.executemany(
        "INSERT INTO messages VALUES (?, 1, ?, ?, NULL)",
        [(3000 + i, 1_750_100_000 + i, f"next day {i}") for i in range(50)],
    )
    db.execute("UPDATE messages SET body = 'edited' WHERE id = 17")
    db.execute("DELETE FROM messages WHERE id = 18")
    db.commit()
    db.close()
    (root / "media" / "photo2.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x01" * 50_000)
    _touch_all(root)


def expected(src: Path) -> dict[str, object]:
    files: dict[str, object] = {}
    for p in sorted(src.rglob("*")):
        rel = str(p.relative_to(src.parent))
        if p.is_symlink():
            files[rel] = {"symlink": os.readlink(p)}
        elif p.is_file() and p.name != "msgstore.db":
            st = p.stat()
            files[rel] = {
                "sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
                "mode": st.st_mode & 0o7777,
                "mtime_ns": st.st_mtime_ns,
            }
    return {
        "files": files,
        "databases": {f"{src.name}/msgstore.db": table_digest(src / "msgstore.db")},
    }


def main() -> int:
    if REPO.exists() and "--force" not in sys.argv:
        print(f"{REPO} exists; refusing to replace a committed vector (use --force)")
        return 1
    shutil.rmtree(REPO, ignore_errors=True)
    snapshots = []
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "chatstore"
        src.mkdir()
        make_source(src)
        repo = Repository.init(LocalBackend(REPO))
        key = RecoveryKey.generate()
        repo.add_slot(SlotKind.RECOVERY, key.secret)

        def snap(label: str, **kw: object) -> None:
            s = backup(repo, [src], BackupOptions(hostname="golden", **kw)).snapshot  # type: ignore[arg-type]
            snapshots.append(
                {"label": label, "id": s.id, "writer": s.writer, "seq": s.seq, **expected(src)}
            )

        snap("logical day 1")
        doomed = backup(repo, [src], BackupOptions(hostname="golden", tags=["doomed"])).snapshot
        next_day(src)
        snap("logical day 2 (incremental)")
        snap("page mode", db_mode="pages", use_parent=False)
        forget = ForgetRecord(
            time=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            hostname="golden",
            writer="",
            seq=0,
            removed=[
                RemovedSnapshot(
                    id=doomed.id, writer=doomed.writer, seq=doomed.seq, time=doomed.time
                )
            ],
        )
        repo.remove_snapshot(doomed.id)
        forget_id = repo.save_forget_record(forget)
        meta = {
            "format_version": 2,
            "generator": "scripts/make_golden_repo_v2.py",
            "recovery_key": key.display(),
            "snapshots": snapshots,
            "forget": {
                "id": forget_id,
                "writer": forget.writer,
                "seq": forget.seq,
                "removed": [{"id": doomed.id, "writer": doomed.writer, "seq": doomed.seq}],
            },
        }
    META.write_text(json.dumps(meta, indent=2, sort_keys=True, ensure_ascii=True) + "\n")
    print(f"wrote {REPO} and {META}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
