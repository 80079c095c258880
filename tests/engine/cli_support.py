"""Run the real CLI entry point in-process and capture its exit code and output."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from coffer.cli.main import main


@dataclass
class Run:
    code: int
    out: str
    err: str

    def summary(self) -> dict[str, Any]:
        """The ``summary`` line of a ``--json`` stream (backup, restore, check)."""
        return summary_line(self.out)


def summary_line(out: str) -> dict[str, Any]:
    """The last object with ``"message_type": "summary"`` in JSON Lines output."""
    docs = [json.loads(line) for line in out.splitlines() if line.strip()]
    found = [d for d in docs if d.get("message_type") == "summary"]
    assert found, f"no summary line in {out!r}"
    return found[-1]  # type: ignore[no-any-return]


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> Run:
    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    return Run(code, captured.out, captured.err)
