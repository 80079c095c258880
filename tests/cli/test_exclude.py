"""Exclude patterns (restic's rules) as a pure matcher, and through ``coffer backup``."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine.cli_support import run_cli, summary_line
from hypothesis import given, settings
from hypothesis import strategies as st

from coffer.errors import UsageError
from coffer.ops.exclude import CACHEDIR_SIGNATURE, ExcludeRules, Pattern

CASES = [
    ("*.tmp", "/x/a.tmp", True),
    ("*.tmp", "/x/a.tmp.keep", False),
    ("*.tmp", "/x/dir.tmp/inner", True),  # an excluded folder takes everything below it
    ("/home/u/skip", "/home/u/skip", True),
    ("/home/u/skip", "/other/home/u/skip", False),  # anchored at the root
    ("cache/thumbs", "/d/cache/thumbs/1.jpg", True),
    ("cache/thumbs", "/d/cache/x/thumbs", False),
    ("a/**/z", "/a/z", True),
    ("a/**/z", "/a/b/c/z", True),
    ("a/**/z", "/q/a/b", False),
    ("**/Cache", "/p/x/Cache", True),
    ("[^x]y", "/ay", True),
    ("[^x]y", "/xy", False),
    ("[a-c]q", "/bq", True),
    ("[a-c]q", "/dq", False),
    ("we\\*rd", "/we*rd", True),
    ("we\\*rd", "/weird", False),
    ("?.db", "/m/a.db", True),
    ("?.db", "/m/ab.db", False),
    ("*", "/anything/at/all", True),
]


@pytest.mark.parametrize(("pattern", "path", "excluded"), CASES)
def test_pattern_rules(pattern: str, path: str, excluded: bool) -> None:
    assert ExcludeRules.build([pattern]).excludes(path) is excluded


def test_iexclude_ignores_case_and_exclude_does_not() -> None:
    assert ExcludeRules.build(iexclude=["*.JPG"]).excludes("/p/img.jpg")
    assert ExcludeRules.build(iexclude=["*.jpg"]).excludes("/p/IMG.JPG")
    assert not ExcludeRules.build(["*.JPG"]).excludes("/p/img.jpg")


@pytest.mark.parametrize("bad", ["", "  ", "!*.tmp", "[abc", "x\\", "[]"])
def test_bad_patterns_are_usage_errors(bad: str) -> None:
    with pytest.raises(UsageError):
        Pattern.compile(bad)


_NAME = st.text(
    st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",)), min_size=1
).filter(lambda s: s not in (".", ".."))


@settings(max_examples=150, deadline=None)
@given(name=_NAME, other=_NAME)
def test_an_escaped_name_matches_exactly_itself(name: str, other: str) -> None:
    pattern = re.sub(r"([*?\[\]\\])", r"\\\1", name)
    rules = ExcludeRules.build([f"/{pattern}"])
    assert rules.excludes(f"/{name}")
    assert rules.excludes(f"/{other}") is (other == name)


def test_exclude_file_comments_blanks_and_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SKIPME", "private")
    listing = tmp_path / "excludes"
    listing.write_text("# caches\n\n  *.tmp  \n/$SKIPME/**\n#not/this\n")
    rules = ExcludeRules.build(exclude_files=[listing])
    assert [p.text for p in rules.patterns] == ["*.tmp", "/private/**"]
    assert rules.excludes("/private/x") and not rules.excludes("/x/not/this")
    with pytest.raises(UsageError, match="cannot read exclude file"):
        ExcludeRules.build(exclude_files=[tmp_path / "missing"])


# -- through the CLI ---------------------------------------------------------------------


def _tree(root: Path) -> Path:
    for rel, data in {
        "msgs/a.txt": b"a" * 1000,
        "msgs/b.tmp": b"b" * 1000,
        "media/IMG.JPG": b"\xff\xd8" + os.urandom(5000),
        "media/clip.mp4": os.urandom(3000),
        "thumbs/CACHEDIR.TAG": CACHEDIR_SIGNATURE + b"\n# made by an app\n",
        "thumbs/t1.png": os.urandom(2000),
        "fake-cache/CACHEDIR.TAG": b"not the signature",
        "fake-cache/keep.bin": b"k" * 100,
    }.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def _paths(capsys: pytest.CaptureFixture[str]) -> set[str]:
    r = run_cli(capsys, "ls", "--json", "latest")
    assert r.code == 0, r.err
    return {e["path"] for e in json.loads(r.out)}


def test_backup_leaves_out_what_the_flags_say(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _tree(tmp_path / "store")
    listing = tmp_path / "excludes"
    listing.write_text("# no videos\n*.mp4\n")
    r = run_cli(
        capsys, "backup", str(src), "--exclude", "*.tmp", "--iexclude", "*.jpg",
        "--exclude-file", str(listing), "--exclude-caches",
    )  # fmt: skip
    assert r.code == 0, r.err
    got = _paths(capsys)
    assert "store/msgs/a.txt" in got and "store/msgs/b.tmp" not in got
    assert "store/media/IMG.JPG" not in got and "store/media/clip.mp4" not in got
    assert {"store/thumbs", "store/thumbs/CACHEDIR.TAG"} <= got
    assert "store/thumbs/t1.png" not in got
    assert "store/fake-cache/keep.bin" in got  # a tag without the signature does nothing


def test_a_bad_pattern_is_a_usage_error_before_anything_is_read(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _tree(tmp_path / "store")
    before = _objects(repo)
    r = run_cli(capsys, "backup", str(src), "--exclude", "!*.tmp")
    assert r.code == 2 and "negated exclude patterns are not supported" in r.err
    assert _objects(repo) == before


@pytest.fixture
def mounted(tmp_path: Path) -> Iterator[Path]:
    point = tmp_path / "store" / "sdcard"
    point.mkdir(parents=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "none", str(point)],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    try:
        (point / "inside.bin").write_bytes(b"x" * 4000)
        yield tmp_path / "store"
    finally:
        subprocess.run(["umount", str(point)], check=True)


def test_one_file_system_keeps_the_mount_point_empty(
    repo: Path, mounted: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (mounted / "local.txt").write_text("here")
    assert run_cli(capsys, "backup", str(mounted)).code == 0
    assert "store/sdcard/inside.bin" in _paths(capsys)
    r = run_cli(capsys, "backup", "--one-file-system", "--force", str(mounted))
    assert r.code == 0, r.err
    got = _paths(capsys)
    assert {"store/local.txt", "store/sdcard"} <= got and "store/sdcard/inside.bin" not in got


def _objects(repo: Path) -> dict[str, int]:
    return {str(p.relative_to(repo)): p.stat().st_size for p in repo.rglob("*") if p.is_file()}


def test_dry_run_writes_nothing_and_reports_what_the_backup_then_does(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _tree(tmp_path / "store")
    before = _objects(repo)
    r = run_cli(capsys, "backup", "--dry-run", "--json", str(src))
    assert r.code == 0, r.err
    dry = summary_line(r.out)
    assert _objects(repo) == before  # no pack, index, lock or snapshot
    assert dry["dry_run"] is True and dry["snapshot"] is None
    r = run_cli(capsys, "backup", "--dry-run", str(src))
    assert "dry run, nothing saved: 8 new" in r.out and "would add" in r.out
    r = run_cli(capsys, "backup", "--json", str(src))
    real = summary_line(r.out)
    for field in ("files_new", "files_changed", "bytes_read", "bytes_new", "blobs_new"):
        assert dry[field] == real[field], field
    assert dry["files_new"] == 8 and real["snapshot"]
    r = run_cli(capsys, "backup", "--dry-run", "--json", str(src))
    again = summary_line(r.out)
    assert again["files_unchanged"] == 8 and again["bytes_new"] == 0
