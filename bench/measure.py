"""Running a timed step: page-cache drop, ``/usr/bin/time -v`` for wall time and peak RSS."""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

TIME = "/usr/bin/time"


@dataclass
class Step:
    wall: float
    rss_kb: int
    output: str


def drop_caches() -> bool:
    """Flush dirty pages and drop the page cache; False when not permitted here."""
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError:
        return False
    return True


def run(cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
        cold: bool = True) -> Step:  # fmt: skip
    """Run ``cmd`` under ``/usr/bin/time -v``; raise with its output if it fails."""
    if cold:
        drop_caches()
    full_env = {**os.environ, **(env or {})}
    started = time.perf_counter()
    proc = subprocess.run([TIME, "-v", *cmd], env=full_env, cwd=cwd, capture_output=True,
                          text=True)  # fmt: skip
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    return Step(wall=wall, rss_kb=int(rss.group(1)) if rss else 0, output=proc.stdout)


def dir_bytes(root: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(root):
        for name in files:
            total += os.lstat(os.path.join(dirpath, name)).st_size
    return total


def dd_seconds(folder: Path, nbytes: int) -> float:
    """Time for ``dd ... conv=fdatasync`` to write ``nbytes`` (the restore yardstick)."""
    target = folder / "dd.bin"
    count = max(1, nbytes >> 20)
    drop_caches()
    started = time.perf_counter()
    subprocess.run(["dd", "if=/dev/zero", f"of={target}", "bs=1M", f"count={count}",
                    "conv=fdatasync"], check=True, capture_output=True)  # fmt: skip
    seconds = time.perf_counter() - started
    target.unlink()
    return seconds
