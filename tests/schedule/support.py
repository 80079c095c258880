"""Reading scheduler files back the way their scheduler would (for the tests)."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


def systemd_values(text: str, key: str) -> list[str]:
    return [line.split("=", 1)[1] for line in text.splitlines() if line.startswith(key + "=")]


def _unescape(word: str) -> str:
    return word.replace("%%", "\0").replace("$$", "$").replace("\0", "%")


def exec_start(service: str) -> list[str]:
    """The argv systemd would run (quotes, ``$$`` and ``%%`` undone)."""
    [line] = systemd_values(service, "ExecStart")
    return [_unescape(w) for w in shlex.split(line)]


def unit_environment(service: str) -> dict[str, str]:
    env = {}
    for value in systemd_values(service, "Environment"):
        [assignment] = shlex.split(value)
        name, _, val = assignment.replace("%%", "%").partition("=")
        env[name] = val
    return env


def verify(*units: Path) -> None:
    """``systemd-analyze verify`` must accept the units (a visible skip where it is missing)."""
    if SYSTEMD_ANALYZE is None:
        pytest.skip("systemd-analyze is not installed here: unit files not verified")
    done = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", *map(str, units)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert not re.search(r"(?i)unknown|ignoring|refusing", done.stderr), done.stderr
