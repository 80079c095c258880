"""``make bench``: Coffer against restic and borg on the same generated chat store.

Usage: ``python bench/run.py [--size bench|demo|small] [--scale 1,4] [--seed N]
[--tools coffer,coffer-pages,restic,borg] [--limit-upload KIB_S] [--coffer-arg=ARG ...]``.
For each scale (a dataset with that many times the messages and the same day's work), steps
timed under ``/usr/bin/time -v`` with the page cache dropped first where permitted: initial
backup, next-day backup (after ``apply_next_day``), full restore of the latest snapshot
(verified against the live folder), then a second next day backed up with ``--limit-upload``
by Coffer and restic. Prints one table of Coffer/peer ratios per dataset and issue 16's targets,
and writes ``bench/out/results-<size>-x<scale>.json``. Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dataset import cached_store, live_copy, next_day, spec_for, tree_bytes
from measure import dd_seconds, dir_bytes, drop_caches
from tools import Borg, Coffer, Restic, Tool, find_store
from verify import verify

MB = 1e6


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", choices=["bench", "demo", "small"], default="bench")
    ap.add_argument(
        "--scale",
        default="1,4",
        help="comma-separated message multipliers, one dataset each (default 1,4: "
        "the ~140 MB and ~560 MB databases); the next day's work stays the same",
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--tools",
        default="coffer,coffer-pages,restic,borg",
        help="any of coffer (repository default: logical), coffer-logical, "
        "coffer-pages (--db-mode), restic, borg",
    )
    ap.add_argument(
        "--limit-upload",
        type=int,
        default=2500,
        metavar="KIB_S",
        help="bandwidth-limited next-day run for Coffer's default mode and restic (0: skip)",
    )
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out")
    ap.add_argument(
        "--coffer-arg",
        action="append",
        default=[],
        help="extra argument for `coffer backup` (repeatable)",
    )
    return ap.parse_args(argv)  # fmt: skip


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


def bench(args: argparse.Namespace, scale: int) -> dict[str, object]:
    load_before = os.getloadavg()
    spec = spec_for(args.size, args.seed, scale)
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
    limited = limited_run(args, live, spec, tools) if args.limit_upload else {}
    live_bytes = tree_bytes(live)
    return {
        "size": args.size, "scale": scale, "seed": args.seed, "source_mb": source_bytes / MB,
        "db_mb": db0 / MB, "next_day": day_note, "new_media_mb": new_media / MB,
        "dd_fdatasync_s": dd_seconds(work, live_bytes), "restored_mb": live_bytes / MB,
        "page_cache_dropped": drop_caches(), "coffer_args": args.coffer_arg, "tools": res,
        "limited": limited, "limit_upload_kib": args.limit_upload,
        "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }  # fmt: skip


def limited_run(
    args: argparse.Namespace, live: Path, spec: object, tools: list[Tool]
) -> dict[str, dict[str, float]]:
    """Day 2 over a home uplink: the same next-day work, uploads capped for both tools."""
    chosen = [t for t in tools if t.name in ("coffer", "coffer-logical", "restic")]
    if not chosen:
        return {}
    print(next_day(live, spec, day=2) + f" (upload limit {args.limit_upload} KiB/s)")
    out: dict[str, dict[str, float]] = {}
    for t in chosen:
        before = dir_bytes(t.repo)
        step = t.backup(live, "day2", limit_upload=args.limit_upload)
        out[t.name] = {"next_s": step.wall, "added_mb": (dir_bytes(t.repo) - before) / MB,
                       "rss_mb": step.rss_kb / 1e3}  # fmt: skip
        print(f"{t.name}: limited next-day backup {step.wall:.1f} s")
    return out


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
    lines = [f"dataset x{result['scale']}: source {result['source_mb']:.0f} MB "
             f"(database {result['db_mb']:.0f} MB); {result['next_day']}"]  # fmt: skip
    head = f"{'':32}" + "".join(f"{n:>14}" for n in names)
    head += "".join(f"{c.removeprefix('coffer-') + '/' + p:>16}" for c, p in pairs)
    lines.append(head)
    for label, key in ROWS:
        line = f"{label:32}" + "".join(f"{tools[n][key]:>14.1f}" for n in names)
        for c, p in pairs:
            ratio = tools[c][key] / tools[p][key] if tools[p][key] else float("inf")
            line += f"{ratio:>16.2f}"
        lines.append(line)
    lines.append(f"{'restore verified':32}" + "".join(f"{tools[n]['verified']:>14}" for n in names))
    limited: dict[str, dict[str, float]] = result.get("limited") or {}  # type: ignore[assignment]
    if limited:
        parts = [f"{n} {v['next_s']:.1f} s (+{v['added_mb']:.1f} MB)" for n, v in limited.items()]
        lines.append(f"next day at --limit-upload {result['limit_upload_kib']} KiB/s: "
                     + ", ".join(parts))  # fmt: skip
    lines.append(f"dd conv=fdatasync of the restored {result['restored_mb']:.0f} MB: "
                 f"{result['dd_fdatasync_s']:.1f} s; page cache dropped: "
                 f"{result['page_cache_dropped']}; load average before/after: "
                 f"{result.get('loadavg_before', ['?'])[0]} / "
                 f"{result.get('loadavg_after', ['?'])[0]}")  # fmt: skip
    return "\n".join(lines)


TARGETS = [
    # (label, tool key, peer, metric, how, bound): issue 16's targets, Coffer's default mode
    ("next-day time / restic", "next_s", "<=", 0.5),
    ("next-day bytes / restic", "next_added_mb", "<=", 0.15),
    ("initial throughput / restic", "initial_mbps", ">=", 1.5),
    ("initial RSS / restic", "initial_rss_mb", "<=", 1.0),
    ("next-day RSS / restic", "next_rss_mb", "<=", 1.0),
    ("restore RSS / restic", "restore_rss_mb", "<=", 1.0),
]


def targets(results: list[dict[str, object]]) -> str:
    """Issue 16's targets, met or missed, for every dataset and both Coffer modes."""
    lines = ["targets (issue 16), Coffer / restic:"]
    for result in results:
        tools: dict[str, dict[str, float]] = result["tools"]  # type: ignore[assignment]
        if "restic" not in tools:
            continue
        restore_bound = 1.0 if result["scale"] == 1 else 1.5
        checks = [*TARGETS, ("restore time / restic", "restore_s", "<=", restore_bound)]
        for name in (n for n in tools if n.startswith("coffer")):
            for label, key, how, bound in checks:
                ratio = tools[name][key] / tools["restic"][key]
                ok = ratio <= bound if how == "<=" else ratio >= bound
                lines.append(f"  x{result['scale']} {name:14} {label:28} {ratio:6.2f} "
                             f"(target {how} {bound}) {'met' if ok else 'MISSED'}")  # fmt: skip
    by_scale = {r["scale"]: r["tools"] for r in results}
    if 1 in by_scale and 4 in by_scale:
        for name in (n for n in by_scale[1] if n.startswith("coffer")):  # type: ignore[attr-defined]
            grow = by_scale[4][name]["next_s"] / by_scale[1][name]["next_s"]  # type: ignore[index]
            lines.append(f"  {name:17} next-day time x4 DB / x1 DB {grow:6.2f} (target < 1.5) "
                         f"{'met' if grow < 1.5 else 'MISSED'}")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    for scale in (int(x) for x in args.scale.split(",")):
        result = bench(args, scale)
        results.append(result)
        print()
        print(table(result))
        print()
        path = args.out / f"results-{args.size}-x{scale}.json"
        path.write_text(json.dumps(result, indent=2))
        print(f"results: {path}")
    print()
    for result in results:
        print(table(result))
        print()
    print(targets(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
