"""The public surface: what ``help(coffer)`` shows, ``__all__``, and the drawn exception tree."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import coffer

PUBLIC = {
    "BackendError", "BackupSummary", "CheckReport", "CofferError", "FreshnessError",
    "IntegrityError",
    "MissingExtra", "NoSecret", "PartialBackup", "PasswordLocked", "PasswordRejected",
    "Progress", "Repository", "RepositoryError", "RepositoryExists", "RepositoryLocked",
    "RestoreIncomplete", "RestoreSummary", "Skipped", "SnapshotInfo", "SnapshotNotFound",
    "StalePassword", "UsageError",
    "VaultError", "VaultUnreachable", "WeakPassword", "WrongKey",
}  # fmt: skip
DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def _help_text() -> str:
    env = {k: v for k, v in os.environ.items() if k != "PAGER"}
    done = subprocess.run(
        [sys.executable, "-c", "import coffer; help(coffer)"],
        capture_output=True, text=True, check=True, env={**env, "PAGER": "cat"}, timeout=120,
    )  # fmt: skip
    return done.stdout


def _sections(text: str) -> dict[str, str]:
    parts = re.split(r"^([A-Z][A-Z ]+)$", text, flags=re.MULTILINE)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def test_help_shows_only_the_public_surface() -> None:
    sections = _sections(_help_text())
    assert set(sections) == {
        "NAME",
        "DESCRIPTION",
        "PACKAGE CONTENTS",
        "CLASSES",
        "VERSION",
        "FILE",
    }  # fmt: skip  (no FUNCTIONS, no DATA)
    documented = set(re.findall(r"^    class (\w+)\(", sections["CLASSES"], re.MULTILINE))
    assert documented == PUBLIC
    # every class, base and MRO entry is named as coffer's, never as an internal module's
    assert "coffer." not in sections["CLASSES"].replace("coffer.Repository(", "")
    # the subpackages pydoc always lists are declared internal by the docstring
    description = " ".join(sections["DESCRIPTION"].split())
    assert "listed under PACKAGE CONTENTS by ``help(coffer)``" in description
    assert "is internal and may change in any release" in description
    assert "0.1.0" in sections["VERSION"]


def test_all_is_the_public_surface_and_dir_shows_nothing_else() -> None:
    assert set(coffer.__all__) == PUBLIC
    assert set(dir(coffer)) == PUBLIC | {"__version__"}
    for name in PUBLIC:
        value = getattr(coffer, name)
        assert value.__module__ == "coffer" and value.__doc__, name


def _tree(text: str) -> list[tuple[int, str, int | None]]:
    """(depth, class name, exit code or None) of each line of a drawn exception tree."""
    out = []
    for line in text.splitlines():
        m = re.match(r"^(?P<indent>[ │├└─]*)(?P<name>[A-Z]\w+)(?: \((?P<code>\d+)\))?", line)
        if m and ("├" in line or "└" in line or m.group("name") == "CofferError"):
            depth = len(m.group("indent")) // 4
            out.append((depth, m.group("name"), int(m.group("code")) if m["code"] else None))
    return out


def _drawn(doc: str) -> list[tuple[int, str, int | None]]:
    start = doc.rfind("\n", 0, doc.index("CofferError (1)")) + 1
    end = min(i for i in (doc.find("\n\n", start), doc.find("```", start), len(doc)) if i >= 0)
    return _tree(textwrap.dedent(doc[start:end]))


def test_the_drawn_exception_tree_is_the_real_one() -> None:
    drawn = _drawn(coffer.__doc__ or "")
    assert {name for _, name, _ in drawn} == {
        n for n in PUBLIC if issubclass(getattr(coffer, n), BaseException)
    }
    parents: list[str] = []
    for depth, name, code in drawn:
        cls = getattr(coffer, name)
        parents[depth:] = [name]
        if depth:
            assert issubclass(cls, getattr(coffer, parents[depth - 1])), name
        if code is not None:
            assert cls.exit_code == code, name
    page = DOC.read_text()
    assert _drawn(page[page.index("```\nCofferError (1)") + 4 :]) == drawn  # the same in the docs


def test_import_coffer_is_cheap() -> None:
    """The CLI imports coffer for __version__: the API loads only when a name is used."""
    done = subprocess.run(
        [sys.executable, "-c", "import coffer, sys; print(sorted(m for m in sys.modules "
         "if m.startswith('coffer')))"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    assert done.stdout.strip() == "['coffer']"
