"""docs/api.md runs: every ``python`` block, in order, in an empty folder, against a real
repository and a real key vault (the page's vault address is replaced by the test's)."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from coffer.vault.embedded import EmbeddedVault

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def test_every_example_of_docs_api_md_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, vault: EmbeddedVault
) -> None:
    blocks = BLOCK.findall(DOC.read_text())
    assert len(blocks) >= 8
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    namespace: dict[str, object] = {"__name__": "docs_api"}
    out = io.StringIO()
    for number, block in enumerate(blocks, 1):
        code = block.replace("http://127.0.0.1:8420", vault.url)
        with contextlib.redirect_stdout(out):
            exec(compile(code, f"docs/api.md block {number}", "exec"), namespace)
    printed = out.getvalue()
    # the examples that show an error must really have met it
    assert "refused:" in printed and "exit code 11" in printed, printed
    assert "password too weak" in printed, printed
    assert "9 attempts left" in printed, printed
    assert re.search(r"saved [0-9a-f]{8} without \[.*pipe'\]", printed), printed
