"""Run the real CLI entry point in-process and capture its exit code and output."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from coffer.cli.main import main


@dataclass
class Run:
    code: int
    out: str
    err: str


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> Run:
    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    return Run(code, captured.out, captured.err)
