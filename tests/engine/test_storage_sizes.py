"""Sizes from storage are checked against the object's real size and its type's cap first.

Each case plants a 1 GiB file (sparse: nothing is written, so the test costs a few kilobytes of
disk) where a repository object lives, runs the real ``coffer`` command as a child process and
reads that child's peak resident memory (``VmHWM`` of its own address space, written by the
child as it exits) — a memory bound, not a timing. Before
the caps (:mod:`coffer.engine.limits`) each case allocated the whole gigabyte (the pack case
2.1 GB). The caps are documented in docs/storage.md, "Size limits".
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from coffer.backends.base import ObjectType
from coffer.backends.local import LocalBackend
from coffer.crypto.recovery import RecoveryKey
from coffer.crypto.slots import SlotKind
from coffer.engine import limits
from coffer.engine.pack import ENTRY_LEN, MAGIC, PackEntry
from coffer.engine.repository import Repository, merge_index_objects, split_index
from coffer.ops.backup import backup

from .conftest import SMALL_PARAMS, make_tree

GIB = 1 << 30
RSS_LIMIT_KIB = 200 * 1024
JUNK = "ee" * 32


@dataclass
class Child:
    code: int
    out: str
    err: str
    maxrss_kib: int


# The child writes its address space's high-water mark as it exits. Not ``ru_maxrss`` from
# ``wait4``: Linux carries the forking parent's high-water mark into the child across exec, so
# a child forked by a pytest worker that has grown to 300–400 MB reports at least that much.
_MEASURED = """
import atexit, os, sys
def _peak():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                with open(os.environ["COFFER_TEST_PEAK_FILE"], "w") as out:
                    out.write(line.split()[1])
atexit.register(_peak)
sys.argv = ["coffer", *sys.argv[1:]]
from coffer.cli.main import entry
entry()
"""


def run_measured(args: list[str], env: dict[str, str], tmp: Path, timeout: float = 300) -> Child:
    """Run the ``coffer`` CLI with ARGS; its exit code, output and peak RSS (KiB, ``VmHWM``).

    A timer kills a child that hangs, so the test fails instead of hanging.
    """
    out_path, err_path, peak_path = tmp / "child.out", tmp / "child.err", tmp / "child.peak"
    peak_path.unlink(missing_ok=True)
    env = {**env, "COFFER_TEST_PEAK_FILE": str(peak_path)}
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", _MEASURED, *args], env=env, stdout=out, stderr=err
        )
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        proc.wait()
    finally:
        timer.cancel()
    assert peak_path.exists(), "the child did not report its peak memory (killed?)"
    return Child(
        proc.returncode,
        out_path.read_text(errors="replace"),
        err_path.read_text(errors="replace"),
        int(peak_path.read_text()),
    )


@pytest.fixture(scope="module")
def base_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RecoveryKey]:
    root = tmp_path_factory.mktemp("sizes")
    repo = Repository.init(LocalBackend(root / "repo"), SMALL_PARAMS)
    key = RecoveryKey.generate()
    repo.add_slot(SlotKind.RECOVERY, key.secret)
    backup(repo, [make_tree(root / "src")])
    return root / "repo", key


def _sparse(path: Path, size: int, tail: bytes = b"") -> None:
    """A file of ``size`` bytes that holds no data blocks except ``tail`` at its very end."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.truncate(size - len(tail))
        fh.seek(size - len(tail))
        fh.write(tail)


def _env(repo: Path, key: RecoveryKey) -> dict[str, str]:
    return {**os.environ, "COFFER_REPO": str(repo), "COFFER_RECOVERY_KEY": key.display()}


def _a_pack(repo: Path) -> Path:
    return sorted((repo / "data").glob("*/*"))[0]


def _plant(repo: Path, where: str) -> str:
    """Plant the 1 GiB file; return the object name the error must mention."""
    if where == "data":
        pack = _a_pack(repo)  # an indexed pack, so check reads its header
        pack.unlink()
        _sparse(pack, GIB, struct.pack("<I4s", GIB - 8, MAGIC))  # "my header is 1 GiB"
        return f"data/{pack.name}"
    if where == "config":
        (repo / "config").unlink()
        _sparse(repo / "config", GIB)
        return "config"
    _sparse(repo / where / JUNK, GIB)
    return f"{where}/{JUNK}"


@pytest.mark.parametrize("where", ["data", "keys", "snapshots", "index", "config"])
def test_a_1_gib_object_is_an_integrity_error_in_bounded_memory(
    base_repo: tuple[Path, RecoveryKey], tmp_path: Path, where: str
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(base_repo[0], repo)
    name = _plant(repo, where)
    child = run_measured(["check"], _env(repo, base_repo[1]), tmp_path)
    print(f"{where}: exit {child.code}, peak RSS {child.maxrss_kib // 1024} MiB\n{child.err}")
    assert child.code == 12, child.err
    assert name in child.err and "limit" in child.err, child.err
    assert "Traceback" not in child.err
    assert child.maxrss_kib < RSS_LIMIT_KIB, f"peak RSS {child.maxrss_kib} KiB"


@pytest.mark.parametrize("where", ["snapshots", "locks"])
def test_listing_and_locking_past_a_1_gib_object_stay_bounded(
    base_repo: tuple[Path, RecoveryKey], tmp_path: Path, where: str
) -> None:
    """``snapshots`` lists past a junk snapshot object; a junk lock object is not a lock."""
    repo = tmp_path / "repo"
    shutil.copytree(base_repo[0], repo)
    name = _plant(repo, where)
    child = run_measured(["snapshots"], _env(repo, base_repo[1]), tmp_path)
    print(f"{where}: exit {child.code}, peak RSS {child.maxrss_kib // 1024} MiB\n{child.err}")
    assert child.code == 0, child.err
    assert len([ln for ln in child.out.splitlines() if ln.strip()]) >= 1
    if where == "snapshots":
        assert name in child.err and "limit" in child.err, child.err
    assert child.maxrss_kib < RSS_LIMIT_KIB, f"peak RSS {child.maxrss_kib} KiB"


def test_check_read_data_streams_a_pack(
    base_repo: tuple[Path, RecoveryKey], tmp_path: Path
) -> None:
    """An indexed pack grown to 1 GiB at its front is hashed in pieces, not loaded whole."""
    repo = tmp_path / "repo"
    shutil.copytree(base_repo[0], repo)
    pack = _a_pack(repo)
    real = pack.read_bytes()
    pack.unlink()
    _sparse(pack, GIB, real)  # the real header still ends the file: it authenticates
    child = run_measured(["check", "--read-data"], _env(repo, base_repo[1]), tmp_path)
    print(f"exit {child.code}, peak RSS {child.maxrss_kib // 1024} MiB\n{child.err}")
    assert child.code == 12, child.err
    assert f"data/{pack.name}" in child.err
    assert child.maxrss_kib < RSS_LIMIT_KIB, f"peak RSS {child.maxrss_kib} KiB"


def test_writers_stay_under_the_readers_caps() -> None:
    """A pack ships at MAX_PACK_ENTRIES; a big index is written in pieces under the cap."""
    assert ENTRY_LEN == limits.PACK_ENTRY_LEN
    assert 5 + limits.MAX_PACK_ENTRIES * ENTRY_LEN + 36 < limits.INDEX_PLAIN_MAX
    entry = PackEntry(b"\0" * 32, 0, 0, 0, 1, 1)
    packs = [(f"{n:064x}", [entry] * 20_000) for n in range(60)]  # ~55 MiB of entries
    pieces = split_index(packs)
    assert [p for piece in pieces for p in piece] == packs
    assert len(pieces) > 1
    for piece in pieces:
        assert sum(36 + len(e) * ENTRY_LEN for _p, e in piece) <= limits.INDEX_PIECE_BYTES


def test_a_large_index_round_trips_in_pieces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """save_index of more than one piece: every piece is read back, the last one supersedes.

    The piece size is lowered to 64 KiB so a few thousand entries make several pieces.
    """
    monkeypatch.setattr(limits, "INDEX_PIECE_BYTES", 64 * 1024)
    repo = Repository.init(LocalBackend(tmp_path / "repo"), SMALL_PARAMS)
    key = RecoveryKey.generate()
    repo.add_slot(SlotKind.RECOVERY, key.secret)
    first = repo.save_index([(f"{1:064x}", [PackEntry(os.urandom(32), 0, 0, 0, 1, 1)])])
    packs = [
        (f"{n + 2:064x}", [PackEntry(os.urandom(32), 0, 0, i, 1, 1) for i in range(1000)])
        for n in range(10)
    ]  # 10,000 entries: ~450 KiB of plaintext, one pack a piece
    repo.save_index(packs, supersedes=(first,))
    stored = [size for _oid, size in repo.backend.list(ObjectType.INDEX)]
    assert len(stored) == 1 + 10 and max(stored) <= 64 * 1024 + 4096
    reopened = Repository.open(LocalBackend(tmp_path / "repo"), SlotKind.RECOVERY, key.secret)
    decoded, damaged, _vanished = reopened.read_index_objects()  # load_index drops absent packs
    index, live = merge_index_objects(decoded)
    assert damaged == {} and first not in live and len(live) == 10
    assert index.packs == {p for p, _e in packs}
    assert len(index) == 10_000
