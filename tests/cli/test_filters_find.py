"""restic's snapshot filters on snapshots, ls, restore, forget; ``forget ID...``; ``find``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from engine.cli_support import run_cli

from coffer.cli.main import main
from coffer.ops.snapshot_filter import SnapshotFilter


@pytest.fixture
def three(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    """Three snapshots: phone (tags daily,auto), laptop (tag weekly), phone again (no tag)."""
    src = tmp_path / "chat-store"
    (src / "media").mkdir(parents=True)
    (src / "media" / "IMG_1.JPG").write_bytes(os.urandom(3000))
    (src / "media" / "voice.opus").write_bytes(os.urandom(2000))
    (src / "notes.txt").write_text("notes")
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.jpg").write_bytes(b"x")
    ids = {}
    for label, args in {
        "phone": ["--host", "phone", "--tag", "daily", "--tag", "auto", str(src)],
        "laptop": ["--host", "laptop", "--tag", "weekly", str(other)],
        "phone2": ["--host", "phone", "--force", str(src)],
    }.items():
        assert main(["backup", "-q", "--json", *args]) == 0
    for snap_id, label in zip(_ids(capsys), ["phone", "laptop", "phone2"], strict=True):
        ids[label] = snap_id
    ids["src"], ids["other"] = str(src), str(other)
    return ids


def _ids(capsys: pytest.CaptureFixture[str], *args: str) -> list[str]:
    r = run_cli(capsys, "snapshots", "--json", *args)
    assert r.code == 0, r.err
    return [s["id"] for s in json.loads(r.out)]


def test_snapshots_filters(three: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert _ids(capsys, "--host", "phone") == [three["phone"], three["phone2"]]
    assert _ids(capsys, "--host", "laptop", "--host", "phone") == [
        three["phone"], three["laptop"], three["phone2"],
    ]  # fmt: skip
    assert _ids(capsys, "--tag", "daily,auto") == [three["phone"]]
    assert _ids(capsys, "--tag", "daily,weekly") == []
    assert _ids(capsys, "--tag", "daily", "--tag", "weekly") == [three["phone"], three["laptop"]]
    assert _ids(capsys, "--path", three["other"]) == [three["laptop"]]
    r = run_cli(capsys, "snapshots", "--host", "tablet")
    assert r.code == 0 and "no snapshot matches --host tablet" in r.out


def test_ls_and_restore_latest_under_a_filter(
    three: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    r = run_cli(capsys, "ls", "--json", "--host", "laptop", "latest")
    assert r.code == 0 and {e["path"] for e in json.loads(r.out)} == {"other", "other/x.jpg"}
    r = run_cli(capsys, "restore", "latest", "--target", str(tmp_path / "a"), "--tag", "daily")
    assert r.code == 0 and three["phone"][:8] in r.out
    r = run_cli(
        capsys, "restore", "latest", "--target", str(tmp_path / "b"),
        "--snapshot-path", three["other"],
    )  # fmt: skip
    assert r.code == 0 and three["laptop"][:8] in r.out
    r = run_cli(capsys, "ls", "--host", "phone", three["laptop"][:8])
    assert r.code == 2 and "does not match --host phone" in r.err


def test_forget_ids_removes_exactly_those(
    three: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    r = run_cli(capsys, "forget", "--dry-run", three["phone"][:8])
    assert r.code == 0 and f"would remove snapshot {three['phone'][:8]}" in r.out
    assert len(_ids(capsys)) == 3
    r = run_cli(capsys, "forget", three["phone"][:8], three["laptop"][:10])
    assert r.code == 0 and r.out.count("removed snapshot") == 2
    assert _ids(capsys) == [three["phone2"]]
    r = run_cli(capsys, "forget", "deadbeef")
    assert r.code == 2 and "no snapshot matches 'deadbeef'" in r.err
    r = run_cli(capsys, "forget", three["phone2"][:8], "--keep-last", "1")
    assert r.code == 2 and "not both" in r.err
    assert _ids(capsys) == [three["phone2"]]


def test_forget_policy_honours_the_filters(
    three: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    r = run_cli(capsys, "forget", "--keep-last", "1", "--host", "phone", "--json")
    assert r.code == 0, r.err
    assert _ids(capsys) == [three["laptop"], three["phone2"]]  # the laptop's was not considered


def test_find_across_snapshots(three: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    r = run_cli(capsys, "find", "--json", "*.jpg")
    assert r.code == 0, r.err
    doc = {d["snapshot"]: [m["path"] for m in d["matches"]] for d in json.loads(r.out)}
    assert doc == {three["laptop"]: ["other/x.jpg"]}  # IMG_1.JPG differs in case
    r = run_cli(capsys, "find", "--json", "-i", "*.jpg", "--host", "phone")
    doc = {d["snapshot"]: [m["path"] for m in d["matches"]] for d in json.loads(r.out)}
    assert doc == {
        three["phone"]: ["chat-store/media/IMG_1.JPG"],
        three["phone2"]: ["chat-store/media/IMG_1.JPG"],
    }
    r = run_cli(capsys, "find", "chat-store/media/*", "-s", three["phone2"][:8])
    assert r.code == 0 and "found 2 in snapshot" in r.out and "voice.opus" in r.out
    r = run_cli(capsys, "find", "nothing*")
    assert r.code == 0 and "no match in 3 snapshot(s)" in r.out


def test_filter_flags_follow_restic() -> None:
    f = SnapshotFilter.from_flags(["a", "b"], ["x,y", ""], ["rel/dir"])
    assert f.hosts == ("a", "b") and f.tag_groups == (frozenset({"x", "y"}), frozenset())
    assert f.paths == (os.path.abspath("rel/dir"),)
    assert f.describe() == f"--host a --host b --tag x,y --tag  --path {os.path.abspath('rel/dir')}"
