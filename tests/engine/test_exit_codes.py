"""Exit codes: the README's table and the code agree, case by case and class by class."""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import coffer
from coffer.errors import CofferError

from .cli_support import run_cli
from .conftest import make_tree

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_codes() -> dict[int, str]:
    text = README.read_text()
    table = text.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    return {int(m[1]): m[2] for m in re.finditer(r"^\| (\d+) \| (.+?) \|$", table, re.M)}


def _error_classes() -> list[type[CofferError]]:
    for info in pkgutil.walk_packages(coffer.__path__, "coffer."):
        if not info.name.endswith("__main__"):  # that one runs the CLI when imported
            importlib.import_module(info.name)
    seen: list[type[CofferError]] = []
    todo: list[type[CofferError]] = [CofferError]
    while todo:
        cls = todo.pop()
        seen.append(cls)
        todo.extend(cls.__subclasses__())
    return seen


def test_every_exit_code_an_error_can_carry_is_in_the_readme_table() -> None:
    table = _readme_codes()
    for cls in _error_classes():
        where = f"{cls.__module__}.{cls.__qualname__} ({inspect.getsourcefile(cls)})"
        assert cls.exit_code in table, f"{where} exits {cls.exit_code}, not in README's table"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    monkeypatch.setenv("COFFER_REPO", str(tmp_path / "repo"))
    monkeypatch.delenv("COFFER_RECOVERY_KEY", raising=False)
    return {"key": tmp_path / "key.txt", "src": make_tree(tmp_path / "src"), "tmp": tmp_path}


def test_init_over_an_existing_repository_is_a_usage_error(
    env: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(capsys, "init", "--save-recovery-key", str(env["key"])).code == 0
    r = run_cli(capsys, "init")
    assert (r.code, _readme_codes()[r.code].split(" ")[0]) == (2, "usage"), r.err
    assert "already exists" in r.err and r.err.count("\n") == 1


def test_a_snapshot_id_that_matches_nothing_is_a_usage_error(
    env: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_cli(capsys, "init", "--save-recovery-key", str(env["key"])).code == 0
    monkeypatch.setenv("COFFER_RECOVERY_KEY", env["key"].read_text())
    r = run_cli(capsys, "restore", "deadbeef", "--target", str(env["tmp"] / "o"))
    assert r.code == 2 and "no snapshot matches 'deadbeef'" in r.err, r.err
    r = run_cli(capsys, "ls", "latest")
    assert r.code == 2 and "no snapshots" in r.err, r.err


def test_no_key_and_no_terminal_exits_with_the_code_the_table_gives(
    env: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(capsys, "init", "--save-recovery-key", str(env["key"])).code == 0
    r = run_cli(capsys, "snapshots")  # pytest's stdin is not a terminal
    assert r.code == 11 and "no recovery key given" in r.err
    assert "missing" in _readme_codes()[11], "the table must say 11 covers a missing key"


_NO_SODIUM = (
    "import ctypes.util, sys\n"
    "ctypes.util.find_library = lambda name: None\n"  # as on a system without libsodium
    "from coffer.cli.main import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def test_missing_libsodium_keeps_version_working_and_has_its_own_code(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "COFFER_REPO": str(tmp_path / "repo")}
        cmd = [sys.executable, "-c", _NO_SODIUM, *args]
        return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)

    version = run("--version")
    assert version.returncode == 0 and coffer.__version__ in version.stdout, version.stderr
    snaps = run("snapshots")
    code = snaps.returncode
    assert code not in (0, 1) and code in _readme_codes(), (code, snaps.stderr)
    assert "libsodium" in _readme_codes()[code]
    assert "apt-get install libsodium23" in snaps.stderr and snaps.stderr.count("\n") == 1
