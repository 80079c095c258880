"""What Coffer's logical mode would add for the database, measured on its stream alone.

Until ``coffer backup`` can select the logical mode, this dumps the day-0 and day-1 databases
with :func:`coffer.sqlite.logical.iter_logical`, cuts both streams with FastCDC
(64 KiB average) and sums the day-1 chunks not present on day 0 — raw and after zstd-3, as the
engine would compress them. It is an estimate of the database's share of the next-day bytes,
without pack, index and snapshot overhead.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import zstandard
from pyfastcdc import FastCDC

from coffer.sqlite.logical import LogicalStream

AVG = 64 * 1024


def estimate(day0: Path, day1: Path) -> dict[str, float]:
    started = time.perf_counter()
    cdc, zstd = FastCDC(AVG), zstandard.ZstdCompressor(level=3)
    with LogicalStream(day0) as stream:
        before = {hashlib.sha256(c.data).digest() for c in cdc.cut_stream(stream)}
    new = new_zstd = total = 0
    with LogicalStream(day1) as stream:
        for chunk in cdc.cut_stream(stream):
            total += chunk.length
            if hashlib.sha256(chunk.data).digest() not in before:
                new += chunk.length
                new_zstd += len(zstd.compress(chunk.data))
    return {
        "logical_new_mb": new / 1e6,
        "logical_new_zstd_mb": new_zstd / 1e6,
        "stream_mb": total / 1e6,
        "seconds": time.perf_counter() - started,
    }
