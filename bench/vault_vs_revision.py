"""The vault's node CPU per login now against an earlier revision's, alternated on one machine.

Why: this machine is a VM whose speed moves by up to 2-3× within an hour (the floors of
``vault_floors.py`` — the group operations, a minimal HTTP request, a libpq round trip — summed
to 0.31 ms per login in one session's fastest spell and up to 0.94 ms in the next), so a node
CPU figure on its own says as much about the hour as about the code. Running an earlier
revision's own benchmark and this one's in turn, round after round, gives ratios whose two runs
shared the machine's hour.

What runs, each round, in this order:

1. ``bench/vault_bench.py`` of ``--rev`` (default ``139a960``, the first round's last commit:
   the code issue 13 measured before setting its capacity targets), extracted with
   ``git archive`` into a temporary folder and run with that folder's ``src`` first on
   ``PYTHONPATH`` — its own load generator (``VaultClient`` over httpx), its own two PostgreSQL
   nodes, every part it has (it has no switches to skip any);
2. this revision's bench, PostgreSQL only, with the same kind of load generator
   (``--client httpx``);
3. this revision's bench with its lean load generator (the figure in ``docs/vault-api.md``).

The ratio that compares code is (2) ÷ (1): the same client library, thread count and node
count. (3) is this revision's capacity figure. The earlier bench counts the accounts it
registers inside the measured window as logins (``--accounts`` of them, 32), which flatters it
by 1–2 %.

Not a test; run: ``.venv/bin/python bench/vault_vs_revision.py [--rev REV] [--rounds N]``.
Needs git and the repository's history (a clone, not an sdist), and PostgreSQL on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PG_KEY = "http_postgres_2_nodes"


def extract(rev: str, into: Path) -> None:
    """The ``src``, ``bench`` and ``tests`` folders of ``rev``, as files under ``into``."""
    done = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", rev, "src", "bench", "tests"],
        check=False,
        capture_output=True,
    )
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no reason"]
        raise SystemExit(f"cannot extract {rev!r} from {ROOT}: {reason[0]}")
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as tar:
        tar.extractall(into, filter="data")


def run_bench(script: Path, args: list[str], src: Path) -> dict[str, Any]:
    """One run of a ``vault_bench.py``; its JSON report."""
    env = dict(os.environ, PYTHONPATH=str(src))
    done = subprocess.run(
        [sys.executable, str(script), *args],
        cwd=script.parents[1],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-3:]
        raise SystemExit(f"{script} failed ({done.returncode}): " + " | ".join(tail))
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def figures(report: dict[str, Any]) -> dict[str, float]:
    pg = report[PG_KEY]
    if not isinstance(pg, dict):
        raise SystemExit(f"no PostgreSQL run in the report: {pg!r}")
    out = {
        "logins_per_s": pg["logins_per_s"],
        "p99_ms": pg["p99_ms"],
        "node_cpu_ms_per_login": pg["node_cpu_ms_per_login"],
        "server_crypto_ms": report["server_crypto"]["server_crypto_ms_per_login"],
    }
    if "floors" in report:
        out["node_floor_ms"] = report["floors"]["node_floor_ms_per_login"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rev", default="139a960", help="the earlier revision (default: %(default)s)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=4, help="client threads per load process")
    args = ap.parse_args()
    threads = ["--threads", str(args.threads)]
    ours = ["--skip-sqlite", "--skip-in-process", *threads]
    here = ROOT / "bench/vault_bench.py"
    rounds: list[dict[str, dict[str, float]]] = []
    with tempfile.TemporaryDirectory() as d:
        old = Path(d)
        extract(args.rev, old)
        for i in range(args.rounds):
            row = {
                "rev": figures(run_bench(old / "bench/vault_bench.py", threads, old / "src")),
                "now_httpx": figures(run_bench(here, [*ours, "--client", "httpx"], ROOT / "src")),
                "now_lean": figures(run_bench(here, ours, ROOT / "src")),
            }
            row["ratio"] = {
                "node_cpu_now_httpx_over_rev": row["now_httpx"]["node_cpu_ms_per_login"]
                / row["rev"]["node_cpu_ms_per_login"],
                "node_cpu_now_lean_over_rev": row["now_lean"]["node_cpu_ms_per_login"]
                / row["rev"]["node_cpu_ms_per_login"],
            }
            rounds.append(row)
            print(f"round {i + 1}: " + json.dumps(row), file=sys.stderr)
    summary = {
        key: statistics.median(r["ratio"][key] for r in rounds) for key in rounds[0]["ratio"]
    }
    print(json.dumps({"rev": args.rev, "rounds": rounds, "median": summary}, indent=2))


if __name__ == "__main__":
    main()
