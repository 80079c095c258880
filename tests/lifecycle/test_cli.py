"""The lifecycle commands through the real CLI entry point, in-process."""

from __future__ import annotations

import json
import math
import socket
from dataclasses import dataclass
from pathlib import Path

import pytest
from engine.cli_support import summary_line

from coffer.backends.base import ObjectType
from coffer.cli.main import main
from coffer.engine.locks import _write
from coffer.ops.check import check
from coffer.ops.forget import remove_with_record
from coffer.ops.prune import load_plans
from coffer.ops.verify_state import VerifiedRecord, select_packs

from .conftest import RepoHandle, do_backup, random_files, write_files


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> object:
        """The output as JSON; for a JSON Lines stream (check), its summary line."""
        try:
            return json.loads(self.out)
        except ValueError:
            return summary_line(self.out)


@pytest.fixture
def cli(
    handle: RepoHandle,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):
    monkeypatch.setenv("COFFER_REPO", str(handle.path))
    monkeypatch.setenv("COFFER_RECOVERY_KEY", handle.key.display())
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    def run(*args: str) -> Run:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


def _owner_removes(handle: RepoHandle, oid: str) -> None:
    """Remove one snapshot as its owner does (with a forget record, so no freshness alarm)."""
    repo = handle.open()
    remove_with_record(repo, [repo.load_snapshot(oid)])


def _three_snapshots(handle: RepoHandle, tmp_path: Path) -> tuple[Path, list[str]]:
    src = write_files(tmp_path / "src", random_files(31, 3, 60_000))
    ids = [do_backup(handle, src).snapshot.id]
    (src / "f000.bin").unlink()
    write_files(src, {"f001.bin": b"changed" * 10_000, "new.txt": b"hello\n"})
    ids.append(do_backup(handle, src).snapshot.id)
    write_files(src, {"newer.txt": b"again\n"})
    ids.append(do_backup(handle, src).snapshot.id)
    return src, ids


def test_forget_dry_run_then_forget_with_prune(cli, handle: RepoHandle, tmp_path: Path) -> None:
    _src, ids = _three_snapshots(handle, tmp_path)
    dry = cli("forget", "--keep-last", "1", "--dry-run", "--json")
    assert dry.code == 0, dry.err
    (group,) = dry.json()
    assert [k["id"] for k in group["keep"]] == [ids[2]] and group["keep"][0]["reasons"] == ["last"]
    assert {r["id"] for r in group["remove"]} == set(ids[:2])
    assert sorted(handle.open().snapshot_ids()) == sorted(ids)

    done = cli("forget", "--keep-last", "1", "--prune", "--grace", "0s")
    assert done.code == 0, done.err
    assert "remove" in done.out and "deleted" in done.out
    assert handle.open().snapshot_ids() == [ids[2]]
    assert check(handle.open(), read_data=True).ok


def test_forget_without_policy_is_a_usage_error(cli, handle: RepoHandle, tmp_path: Path) -> None:
    _three_snapshots(handle, tmp_path)
    r = cli("forget")
    assert r.code == 2 and "policy" in r.err and r.err.count("\n") == 1


def test_prune_cli_json_and_grace(cli, handle: RepoHandle, tmp_path: Path) -> None:
    _src, ids = _three_snapshots(handle, tmp_path)
    _owner_removes(handle, ids[0])
    r = cli("prune", "--json", "--grace", "1h")
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["packs_condemned"] >= 1 and doc["packs_deleted"] == 0 and doc["pending_until"]
    again = cli("prune", "--grace", "1h")
    assert again.code == 0 and "after" in again.out
    bad = cli("prune", "--max-unused", "150%")
    assert bad.code == 2


def test_unlock_removes_stale_locks_only(cli, handle: RepoHandle) -> None:
    repo = handle.open()
    live = _write(repo, exclusive=False)  # this process: alive
    dead_doc = json.dumps(
        {"exclusive": True, "hostname": socket.gethostname(), "pid": 2**22 + 12345, "time": 0.0}
    )
    dead = repo.save_object(ObjectType.LOCKS, dead_doc.encode())
    r = cli("unlock", "--json")
    assert r.code == 0 and r.json() == {"removed": 1}
    names = {n for n, _ in repo.backend.list(ObjectType.LOCKS)}
    assert live in names and dead not in names
    r = cli("unlock", "--remove-all")
    assert r.code == 0 and "removed 1" in r.out
    assert list(repo.backend.list(ObjectType.LOCKS)) == []


def test_repair_index_cli(cli, handle: RepoHandle, tmp_path: Path) -> None:
    _three_snapshots(handle, tmp_path)
    for p in (handle.path / "index").iterdir():
        p.unlink()
    assert cli("check").code == 12
    r = cli("repair", "index", "--json")
    assert r.code == 0 and r.json()["damaged"] == []
    assert cli("check", "--read-data").code == 0


def test_diff_cli(cli, handle: RepoHandle, tmp_path: Path) -> None:
    _src, ids = _three_snapshots(handle, tmp_path)
    r = cli("diff", ids[0][:8], ids[1][:8], "--json")
    assert r.code == 0, r.err
    doc = r.json()
    changes = {c["path"]: c for c in doc["changes"]}
    assert changes["src/f000.bin"]["change"] == "removed"
    assert changes["src/f000.bin"]["size_before"] == 60_004
    assert changes["src/new.txt"]["change"] == "added" and changes["src/new.txt"]["size_after"] == 6
    assert changes["src/f001.bin"]["change"] == "modified"
    assert "src/f002.bin" not in changes
    assert (doc["added"], doc["removed"], doc["modified"]) == (1, 1, 1)
    text = cli("diff", ids[1][:8], "latest")
    assert text.code == 0 and "+  src/newer.txt" in text.out


def test_stats_cli(cli, handle: RepoHandle, tmp_path: Path) -> None:
    _src, ids = _three_snapshots(handle, tmp_path)
    raw = cli("stats", "--mode", "raw", "--json")
    assert raw.code == 0, raw.err
    doc = raw.json()
    stored = sum(p.stat().st_size for p in (handle.path / "data").rglob("*") if p.is_file())
    assert doc["pack_bytes"] == stored and doc["snapshots"] == 3
    assert doc["blob_bytes_raw"] >= 3 * 60_004 - 60_004 and doc["dedup_ratio"] > 1
    restore = cli("stats", ids[0][:8], "--json")
    assert restore.json() == {
        "mode": "restore",
        "snapshots": 1,
        "files": 3,
        "dirs": 1,
        "bytes": 180_012,
    }


def test_read_data_subset_percent_covers_everything(
    cli, handle: RepoHandle, tmp_path: Path
) -> None:
    write_files(tmp_path / "src", random_files(32, 12, 120_000))
    do_backup(handle, tmp_path / "src")
    packs = {n for n, _ in handle.open().backend.list(ObjectType.DATA)}
    assert len(packs) >= 5
    read_total = 0
    for day in range(math.ceil(100 / 25)):
        r = cli("check", "--read-data-subset", "25%", "--json")
        assert r.code == 0, r.err
        read_total += r.json()["packs_read"]
    record = VerifiedRecord.load(handle.open().repo_id)
    assert set(record.times) == packs  # every pack verified within ceil(100/25) runs
    assert read_total == 4 * math.ceil(len(packs) / 4)
    assert cli("check", "--read-data-subset", "0%").code == 2
    assert cli("check", "--read-data-subset", "3/2").code == 2
    assert cli("check", "--read-data", "--read-data-subset", "1/2").code == 2


def test_subset_fractions_partition_the_packs(tmp_path: Path) -> None:
    packs = {f"{i:064x}" for i in range(0, 10_000, 37)}
    record = VerifiedRecord(tmp_path / "v.json")
    parts = [select_packs(f"{n}/5", packs, record) for n in range(1, 6)]
    assert set().union(*parts) == packs and sum(len(p) for p in parts) == len(packs)


def test_subset_percent_prefers_never_then_oldest(tmp_path: Path) -> None:
    packs = {f"{i:064x}" for i in range(10)}
    record = VerifiedRecord(tmp_path / "v.json")
    for i, p in enumerate(sorted(packs)):
        if i < 8:
            record.mark(p, when=100.0 + i)
    chosen = select_packs("30%", packs, record)
    ordered = sorted(packs)
    assert chosen == {ordered[8], ordered[9], ordered[0]}
    record.save()
    assert json.loads(record.path.read_text())["packs"][ordered[0]] == 100.0


def test_forget_prune_json_and_bad_grace_deletes_nothing(
    cli, handle: RepoHandle, tmp_path: Path
) -> None:
    _src, ids = _three_snapshots(handle, tmp_path)
    bad = cli("forget", "--keep-last", "1", "--prune", "--grace", "soon")
    assert bad.code == 2 and sorted(handle.open().snapshot_ids()) == sorted(ids)
    r = cli("forget", "--keep-last", "2", "--prune", "--grace", "0s", "--json")
    assert r.code == 0, r.err
    doc = r.json()
    assert [s["id"] for s in doc["forget"][0]["remove"]] == [ids[0]]
    assert doc["prune"]["plans_swept"] == 1


def test_unlock_never_removes_a_prune_plan(cli, handle: RepoHandle, tmp_path: Path) -> None:
    _src, ids = _three_snapshots(handle, tmp_path)
    _owner_removes(handle, ids[0])
    assert cli("prune", "--grace", "1h").code == 0
    plans = load_plans(handle.open())
    assert len(plans) == 1
    assert cli("unlock", "--remove-all").code == 0
    assert load_plans(handle.open()) == plans
    assert handle.open().condemned_packs() == set(plans[0].condemned)


def test_repair_snapshots_cli_reports_removed_files(
    cli, handle: RepoHandle, tmp_path: Path
) -> None:
    src = write_files(tmp_path / "src", random_files(33, 3, 300_000))
    snap = do_backup(handle, src).snapshot.id
    repo = handle.open()
    node = repo.load_snapshot(snap).tree[0].children[1]
    loc = repo.index.get(node.content[-1])
    assert loc is not None
    repo.backend.remove(ObjectType.DATA, loc.pack_id)
    assert cli("repair", "index").code == 0
    dry = cli("repair", "snapshots", "--dry-run")
    assert dry.code == 0 and f"src/{node.name}" in dry.out and "(dry run)" in dry.out
    r = cli("repair", "snapshots", "--json")
    assert r.code == 0, r.err
    (fixed,) = r.json()["repaired"]
    assert f"src/{node.name}" in fixed["removed"]
    assert cli("check", "--read-data").code == 0
