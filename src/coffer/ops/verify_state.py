"""When each pack was last verified, and which packs a sampled ``check`` should read.

Where the record lives — locally, in ``$XDG_CACHE_HOME/coffer/<repository id>/verified.json``
(``~/.cache`` when unset), not in the repository. Why:

- ``check`` must stay read-only: it runs under a shared lock, on append-only storage and with
  read-only credentials; writing (and later replacing) a record object would break all three.
- A verification is a statement about what *this* client downloaded and authenticated; a
  record written by another device says nothing about what this one can read (its network
  path, its credentials). Each device covering the whole repository on its own is the
  conservative reading of "verified".
- The provider learns nothing from it (it never sees the file); losing it costs only extra
  reads: packs not in the record count as never verified and are read first.

Rules:
- Selection ``N/M`` (1 ≤ N ≤ M): the packs whose ID, read as a number, is ≡ N-1 (mod M) —
  the M subsets partition the packs, so checking 1/M … M/M covers everything (restic's
  semantics, stable as the repository grows).
- Selection ``X%`` (0 < X ≤ 100): ceil(X% of the packs), at least one, taking the packs
  never verified first, then the least recently verified (ties by ID). A daily ``check
  --read-data-subset=5%`` therefore reads every pack within 20 days, then starts over.
- Only a pack that read back clean is recorded; packs that no longer exist are dropped.
- The file is replaced atomically (temp file, fsync, rename) with mode 0600.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import tempfile
import time
from pathlib import Path

from coffer.errors import UsageError

_FRACTION = re.compile(r"(\d+)/(\d+)\Z")
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)%\Z")


def cache_dir(repo_id: bytes) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "coffer" / repo_id.hex()


class VerifiedRecord:
    """Pack ID → Unix time of its last clean verification, persisted as JSON."""

    def __init__(self, path: Path, times: dict[str, float] | None = None) -> None:
        self.path = path
        self.times: dict[str, float] = dict(times or {})

    @classmethod
    def load(cls, repo_id: bytes) -> VerifiedRecord:
        path = cache_dir(repo_id) / "verified.json"
        try:
            doc = json.loads(path.read_text())
            times = {str(k): float(v) for k, v in doc.get("packs", {}).items()}
        except (OSError, ValueError, AttributeError, TypeError):
            times = {}
        return cls(path, times)

    def mark(self, pack_id: str, when: float | None = None) -> None:
        self.times[pack_id] = time.time() if when is None else when

    def forget_missing(self, existing: set[str]) -> None:
        self.times = {p: t for p, t in self.times.items() if p in existing}

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        data = json.dumps({"version": 1, "packs": self.times}, sort_keys=True).encode()
        fd, tmp = tempfile.mkstemp(prefix=".verified-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


def select_packs(spec: str, packs: set[str], record: VerifiedRecord) -> set[str]:
    """The packs a ``--read-data-subset=spec`` check reads; UsageError on a bad spec."""
    spec = spec.strip()
    if m := _FRACTION.match(spec):
        n, total = int(m.group(1)), int(m.group(2))
        if not 1 <= n <= total:
            raise UsageError(f"invalid subset {spec!r}: need 1 <= N <= M in N/M")
        return {p for p in packs if int(p, 16) % total == n - 1}
    if m := _PERCENT.match(spec):
        pct = float(m.group(1))
        if not 0 < pct <= 100:
            raise UsageError(f"invalid subset {spec!r}: the percentage must be in (0, 100]")
        if not packs:
            return set()
        count = max(1, math.ceil(len(packs) * pct / 100))
        order = sorted(packs, key=lambda p: (record.times.get(p, -1.0), p))
        return set(order[:count])
    raise UsageError(f"invalid subset {spec!r}: use N/M (e.g. 2/7) or a percentage (e.g. 5%)")
