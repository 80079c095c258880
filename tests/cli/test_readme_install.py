"""Issue 17 item 2 as text: the README's two commands come first, the install section comes
before the quick start, and every install line names the distribution pyproject.toml builds
(``coffer-backup``: PyPI's ``coffer`` is an unrelated project)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from coffer import _extras

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def _distribution() -> str:
    with open(ROOT / "pyproject.toml", "rb") as fh:
        return str(tomllib.load(fh)["project"]["name"])


def test_the_two_commands_come_first_then_install_then_quick_start() -> None:
    assert README.startswith("# Coffer\n\n```\nmake demo\nmake test\n```\n")
    assert README.index("\n## Install\n") < README.index("\n## Quick start\n")


def test_install_lines_name_the_distribution_that_is_built() -> None:
    name = _distribution()
    assert name == _extras.DISTRIBUTION == "coffer-backup"
    install = README[README.index("\n## Install\n") : README.index("\n## Quick start\n")]
    warning = "`pip install coffer` would install something else"
    assert warning in install
    lines = install.replace(warning, "")
    named = re.findall(r"(?:pipx|pip) (?:install|inject) '?([a-z][\w.-]*)", lines)
    assert f"pipx install {name}" in lines and named, install
    assert set(named) == {name}, named  # never `pip install coffer`: that is someone else's
