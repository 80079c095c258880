"""``--json`` as a stream of JSON lines (status, verbose_status, summary, error) and ``-v``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from engine.cli_support import run_cli

from coffer.cli.jsonstream import JsonStatus

ODD = os.fsdecode(b"caf\xe9.txt")


@pytest.fixture
def src(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    (root / "media").mkdir(parents=True)
    (root / "media" / "a.bin").write_bytes(os.urandom(2_000_000))
    (root / "notes.txt").write_text("notes\n" * 100)
    (root / ODD).write_bytes(b"odd")
    return root


def _lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines()]


def test_backup_streams_status_verbose_and_summary(
    repo: Path, src: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COFFER_PROGRESS_FPS", "1000")
    r = run_cli(capsys, "backup", "--json", "-v", str(src))
    assert r.code == 0 and r.err == "", r.err
    docs = _lines(r.out)  # every line is one JSON object
    kinds = [d["message_type"] for d in docs]
    assert kinds[0] == "status" and kinds[-1] == "summary"
    assert set(kinds) == {"status", "verbose_status", "summary"}
    status = [d for d in docs if d["message_type"] == "status"]
    assert status[0]["percent_done"] == 0.0 and status[0]["action"] == "backup"
    done = [float(str(s["percent_done"])) for s in status]
    assert done == sorted(done) and done[-1] == 1.0
    assert status[-1]["files_done"] == status[-1]["total_files"] == 3
    items = {d["item"]: d["action"] for d in docs if d["message_type"] == "verbose_status"}
    assert items == {"src/media/a.bin": "new", "src/notes.txt": "new", f"src/{ODD}": "new"}
    assert os.fsencode(f"src/{ODD}") == b"src/caf\xe9.txt"  # the JSON string keeps the bytes
    summary = docs[-1]
    assert summary["files_new"] == 3 and isinstance(summary["snapshot"], str)
    r = run_cli(capsys, "backup", "--json", "-v", str(src))
    assert not [d for d in _lines(r.out) if d["message_type"] == "verbose_status"]
    r = run_cli(capsys, "backup", "--json", "-vv", str(src))
    actions = {d["action"] for d in _lines(r.out) if d["message_type"] == "verbose_status"}
    assert actions == {"unchanged"}


def test_problems_are_json_errors_on_stderr_and_the_last_one_is_fatal(
    repo: Path, src: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    os.mkfifo(src / "pipe")
    r = run_cli(capsys, "backup", "--json", str(src))
    assert r.code == 3
    errors = _lines(r.err)
    assert errors[0]["message_type"] == "error" and errors[0]["during"] == "backup"
    assert "pipe" in str(errors[0]["error"])
    assert errors[-1]["fatal"] is True and errors[-1]["exit_code"] == 3
    assert _lines(r.out)[-1]["message_type"] == "summary"  # the snapshot was still saved


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["backup", "--json", "--bogus", "x"], 2),
        (["snapshots", "--json", "--repo", "/nowhere"], 10),
    ],
)
def test_a_failing_command_says_why_in_json(
    args: list[str], code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    r = run_cli(capsys, *args)
    assert r.code == code and r.out == ""
    [doc] = _lines(r.err)
    assert doc["message_type"] == "error" and doc["exit_code"] == code and doc["fatal"] is True
    assert isinstance(doc["error"], dict) and doc["error"]["message"]


def test_restore_and_check_stream_too(
    repo: Path, src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(capsys, "backup", "-q", str(src)).code == 0
    r = run_cli(capsys, "restore", "latest", "--target", str(tmp_path / "out"), "--json", "-v")
    assert r.code == 0, r.err
    docs = _lines(r.out)
    restored = {d["item"] for d in docs if d["message_type"] == "verbose_status"}
    assert restored == {"src/media/a.bin", "src/notes.txt", f"src/{ODD}"}
    assert docs[-1]["message_type"] == "summary" and docs[-1]["files"] == 3
    r = run_cli(capsys, "check", "--read-data", "--json")
    docs = _lines(r.out)
    assert docs[0]["action"] == "check" and docs[-2]["percent_done"] == 1.0
    assert docs[-1]["message_type"] == "summary" and docs[-1]["ok"] is True


def test_verbose_without_json_lists_entries(
    repo: Path, src: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    r = run_cli(capsys, "backup", "-v", str(src))
    assert r.code == 0
    assert "new        src/notes.txt" in r.out and "new        src/caf\\xe9.txt" in r.out
    r = run_cli(capsys, "backup", "-vv", str(src))
    assert "unchanged  src/notes.txt" in r.out


def test_status_lines_are_throttled_by_the_clock(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    now = [0.0]
    status = JsonStatus(clock=lambda: now[0])  # COFFER_PROGRESS_FPS unset: one a second
    monkeypatch.delenv("COFFER_PROGRESS_FPS", raising=False)
    status.interval = 1.0
    status.start(1000, 2, "backup")
    for t in (0.2, 0.5, 0.9):
        now[0] = t
        status.advance(100)
    now[0] = 1.3
    status.advance(100)
    status.complete()
    status.finish()
    docs = _lines(capsys.readouterr().out)
    assert [d["bytes_done"] for d in docs] == [0, 400, 1000]
    assert docs[1]["seconds_remaining"] == pytest.approx(1.3 * 0.6 / 0.4, rel=1e-3)
