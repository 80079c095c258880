"""Peak memory of a backup does not grow with the size of one file (streaming, bounded packs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from coffer.backends.local import LocalBackend
from coffer.crypto.recovery import RecoveryKey
from coffer.crypto.slots import SlotKind
from coffer.engine.repository import Repository

PROBE = r"""
import json, resource, sys
from pathlib import Path
from coffer.backends.local import LocalBackend
from coffer.crypto.recovery import RecoveryKey
from coffer.crypto.slots import SlotKind
from coffer.ops.backup import backup
from coffer.engine.repository import Repository
repo = Repository.open(LocalBackend(Path(sys.argv[1])), SlotKind.RECOVERY,
                       RecoveryKey.parse(sys.argv[2]).secret)
repo.load_index()
result = backup(repo, [Path(sys.argv[3])])
print(json.dumps({"maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "bytes_read": result.bytes_read}))
"""


def _write_random(path: Path, size: int) -> None:
    with open(path, "wb") as fh:
        for _ in range(size // (8 << 20)):
            fh.write(os.urandom(8 << 20))  # incompressible: every chunk fills packs


def _peak_rss(tmp_path: Path, size: int) -> int:
    repo_dir = tmp_path / f"repo-{size}"
    repo = Repository.init(LocalBackend(repo_dir))
    key = RecoveryKey.generate()
    repo.add_slot(SlotKind.RECOVERY, key.secret)
    src = tmp_path / f"big-{size}.bin"
    _write_random(src, size)
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(repo_dir), key.display(), str(src)],
        capture_output=True,
        text=True,
        check=True,
    )
    src.unlink()
    doc = json.loads(out.stdout)
    assert doc["bytes_read"] == size
    return int(doc["maxrss_kib"])


@pytest.mark.slow
def test_peak_rss_does_not_grow_with_file_size(tmp_path: Path) -> None:
    small = _peak_rss(tmp_path, 128 * 1024 * 1024)
    large = _peak_rss(tmp_path, 512 * 1024 * 1024)
    # 4x the input may cost a little more (whether the pipeline's bounded depth was reached,
    # allocator noise), never anything like the ~384 MiB more input
    assert large - small < 48 * 1024, (small, large)
