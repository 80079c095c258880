"""``make bench``: Coffer against restic and borg on the same generated chat store.

Usage: ``python bench/run.py [--size bench|demo|small] [--seed N] [--tools coffer,restic,borg]
[--coffer-arg=ARG ...]``. Steps, each timed under ``/usr/bin/time -v`` with the page cache
dropped first where permitted: initial backup, next-day backup (after ``apply_next_day``), full
restore of the latest snapshot (verified against the live folder). Prints a table with Coffer/peer
ratios and writes ``bench/out/results-<size>.json``. Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dataset import cached_store, live_copy, next_day, spec_for, tree_bytes
from logical_estimate import estimate
from measure import dd_seconds, dir_bytes, drop_caches
from tools import Borg, Coffer, Restic, Tool, find_store
from verify import verify

MB = 1e6


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", choices=["bench", "demo", "small"], default="bench")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tools", default="coffer-logical,coffer-pages,restic,borg",
                    help="any of coffer (repository default), coffer-logical, coffer-pages "
                         "(--db-mode), restic, borg")  # fmt: skip
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out")
    ap.add_argument("--coffer-arg", action="append", default=[],
                    help="extra argument for `coffer backup` (repeatable)")  # fmt: skip
    return ap.parse_args(argv)


def make_tools(names: list[str], work: Path, coffer_args: list[str]) -> list[Tool]:
    makers = {
        "coffer": lambda: Coffer(work, coffer_args),
        "coffer-logical": lambda: Coffer(work, ["--db-mode", "logical", *coffer_args],
                                         "coffer-logical"),
        "coffer-pages": lambda: Coffer(work, ["--db-mode", "pages", *coffer_args], "coffer-pages"),
        "restic": lambda: Restic(work),
        "borg": lambda: Borg(work),
    }  # fmt: skip
    tools = []
    for name in names:
        tool = makers[name]()
        reason = tool.available()
        if reason:
            print(f"skipping {name}: {reason}")
        else:
            tools.append(tool)
    return tools


def bench(args: argparse.Namespace) -> dict[str, object]:
    spec = spec_for(args.size, args.seed)
    store = cached_store(args.out, spec)
    work = args.out / "run"
    live = live_copy(store, work / "chatstore")
    tools = make_tools(args.tools.split(","), work, args.coffer_arg)
    source_bytes, db0 = tree_bytes(live), (live / "msgstore.db").stat().st_size
    res: dict[str, dict[str, object]] = {t.name: {} for t in tools}
    for t in tools:
        t.init()
        step = t.backup(live, "day0")
        res[t.name].update(initial_s=step.wall, initial_mbps=source_bytes / MB / step.wall,
                           initial_rss_mb=step.rss_kb / 1e3, repo0=dir_bytes(t.repo))  # fmt: skip
        print(f"{t.name}: initial backup {step.wall:.1f} s")
    media_before = tree_bytes(live / "media")
    day_note = next_day(live, spec)
    new_media = tree_bytes(live / "media") - media_before
    print(day_note)
    for t in tools:
        step = t.backup(live, "day1")
        added = dir_bytes(t.repo) - int(res[t.name]["repo0"])  # type: ignore[call-overload]
        res[t.name].update(next_s=step.wall, next_added_mb=added / MB,
                           next_rss_mb=step.rss_kb / 1e3,
                           next_db_share_mb=max(0, added - new_media) / MB)  # fmt: skip
        print(f"{t.name}: next-day backup {step.wall:.1f} s, +{added / MB:.1f} MB")
    for t in tools:
        target = work / f"restore-{t.name}"
        shutil.rmtree(target, ignore_errors=True)
        step = t.restore(target, "day1")
        how = verify(live, find_store(target))
        res[t.name].update(restore_s=step.wall, restore_rss_mb=step.rss_kb / 1e3, verified=how,
                           repo_mb=dir_bytes(t.repo) / MB)  # fmt: skip
        print(f"{t.name}: restore {step.wall:.1f} s, verified ({how})")
        shutil.rmtree(target, ignore_errors=True)
    live_bytes = tree_bytes(live)
    logical = estimate(store / "msgstore.db", live / "msgstore.db")
    return {
        "logical_estimate": logical,
        "size": args.size, "seed": args.seed, "source_mb": source_bytes / MB, "db_mb": db0 / MB,
        "next_day": day_note, "new_media_mb": new_media / MB,
        "dd_fdatasync_s": dd_seconds(work, live_bytes), "restored_mb": live_bytes / MB,
        "page_cache_dropped": drop_caches(), "coffer_args": args.coffer_arg, "tools": res,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }  # fmt: skip


ROWS = [
    ("initial backup, s", "initial_s"),
    ("initial backup, MB/s", "initial_mbps"),
    ("initial peak RSS, MB", "initial_rss_mb"),
    ("next-day backup, s", "next_s"),
    ("next-day bytes added, MB", "next_added_mb"),
    ("  of which database (est.), MB", "next_db_share_mb"),
    ("next-day peak RSS, MB", "next_rss_mb"),
    ("restore, s", "restore_s"),
    ("restore peak RSS, MB", "restore_rss_mb"),
    ("repository size, MB", "repo_mb"),
]


def table(result: dict[str, object]) -> str:
    tools: dict[str, dict[str, float]] = result["tools"]  # type: ignore[assignment]
    names = list(tools)
    ours = [n for n in names if n.startswith("coffer")]
    peers = [n for n in names if not n.startswith("coffer")]
    pairs = [(c, p) for c in ours for p in peers]
    head = f"{'':32}" + "".join(f"{n:>15}" for n in names)
    head += "".join(f"{c.removeprefix('coffer-') + '/' + p:>16}" for c, p in pairs)
    lines = [head]
    for label, key in ROWS:
        line = f"{label:32}" + "".join(f"{tools[n][key]:>15.1f}" for n in names)
        for c, p in pairs:
            ratio = tools[c][key] / tools[p][key] if tools[p][key] else float("inf")
            line += f"{ratio:>16.2f}"
        lines.append(line)
    lines.append(f"{'restore verified':32}" + "".join(f"{tools[n]['verified']:>15}" for n in names))
    est: dict[str, float] = result["logical_estimate"]  # type: ignore[assignment]
    line = (f"coffer logical mode, database stream only (estimate): "
            f"+{est['logical_new_mb']:.2f} MB new 64 KiB chunks, "
            f"{est['logical_new_zstd_mb']:.2f} MB after zstd-3")  # fmt: skip
    for p in peers:
        line += (
            f"; {est['logical_new_zstd_mb'] / tools[p]['next_db_share_mb']:.3f} x {p}'s DB share"
        )
    lines.append(line)
    lines.append(f"source {result['source_mb']:.0f} MB (database {result['db_mb']:.0f} MB); "
                 f"{result['next_day']}; dd conv=fdatasync of the restored "
                 f"{result['restored_mb']:.0f} MB: {result['dd_fdatasync_s']:.1f} s; "
                 f"page cache dropped: {result['page_cache_dropped']}")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    result = bench(args)
    print()
    print(table(result))
    path = args.out / f"results-{args.size}.json"
    path.write_text(json.dumps(result, indent=2))
    print(f"\nresults: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
