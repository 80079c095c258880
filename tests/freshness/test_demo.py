"""``coffer demo`` ends with the storage provider putting back an older copy: both phones refuse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from engine.cli_support import run_cli

pytestmark = pytest.mark.slow


def test_the_demo_shows_a_rollback_being_caught(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    work = tmp_path / "demo"
    r = run_cli(capsys, "demo", "--workdir", str(work), "--messages", "2000", "--media-mb", "1")
    assert r.code == 0, r.err
    assert "11. the storage provider puts back its copy of snapshots/" in r.out
    assert r.out.count("refused, exit code 20") == 2
    assert "storage shows an older state than this device or the witness has seen" in r.out
    r = run_cli(capsys, "demo", "--workdir", str(work), "--messages", "2000", "--media-mb", "1",
                "--json")  # fmt: skip
    assert r.code == 0, r.err
    assert json.loads(r.out)["rollback_refused"] == {"old-phone": True, "another-phone": True}
