"""The extras table in coffer/_extras.py matches pyproject.toml, and its errors read well."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from coffer import _extras
from coffer.errors import MissingExtra, UsageError

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
# distribution name → the top-level module it installs, where they differ
MODULE_OF = {
    "psycopg[binary]": "psycopg",
    "python-pkcs11": "pkcs11",
    "prometheus-client": "prometheus_client",
}


def _declared() -> dict[str, list[str]]:
    with open(PYPROJECT, "rb") as fh:
        return dict(tomllib.load(fh)["project"]["optional-dependencies"])


def _name(requirement: str) -> str:
    return re.split(r"[<>=!;~ ]", requirement, maxsplit=1)[0]


def test_every_module_of_the_table_is_what_its_extra_installs() -> None:
    declared = _declared()
    for extra, modules in _extras.EXTRAS.items():
        provided = {MODULE_OF.get(_name(r), _name(r)) for r in declared[extra]}
        assert set(modules) <= provided, (extra, modules, provided)
    assert declared["all"] == ["coffer-backup[s3,rclone,vault,hsm]"]
    assert "coffer-backup[all]" in declared["test"]  # make test installs everything


def test_the_base_install_has_none_of_the_extras() -> None:
    with open(PYPROJECT, "rb") as fh:
        base = {_name(r) for r in tomllib.load(fh)["project"]["dependencies"]}
    for extra in ("s3", "rclone", "vault", "hsm"):
        assert not base & {_name(r) for r in _declared()[extra]}, extra


def test_a_missing_module_raises_a_usage_error_with_the_install_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(_extras.EXTRAS, "s3", ("coffer_test_no_such_module",))
    with pytest.raises(MissingExtra) as caught:
        _extras.require("s3", "the s3: backend")
    assert isinstance(caught.value, UsageError) and caught.value.exit_code == 2
    message = str(caught.value)
    assert message.startswith("the s3: backend needs the 's3' extra: ")
    assert message.endswith("install 'coffer-backup[s3]'") and "\n" not in message


def test_the_install_line_names_this_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _extras.install_line("s3") == f"{sys.executable} -m pip install 'coffer-backup[s3]'"
    monkeypatch.setattr(sys, "prefix", "/home/u/.local/share/pipx/venvs/coffer-backup")
    assert _extras.install_line("s3") == "pipx inject coffer-backup 'boto3>=1.34'"
    monkeypatch.setattr(sys, "prefix", sys.base_prefix)
    assert _extras.install_line("hsm") == "pip install 'coffer-backup[hsm]'"


def test_present_extras_pass() -> None:
    for extra in _extras.EXTRAS:
        _extras.require(extra, "a feature")  # make test installs every extra


BLOCKED_RUN = """
import sys
BLOCK = set(sys.argv[1].split(","))

class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCK:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Blocker())
import importlib.util
_find_spec = importlib.util.find_spec
importlib.util.find_spec = lambda name, package=None: (
    None if name.split(".")[0] in BLOCK else _find_spec(name, package)
)  # as for a module that is not installed
import click
from coffer.cli.main import cli, main

def walk(group, ctx, path):
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        yield [*path, name]
        if isinstance(cmd, click.Group):
            yield from walk(cmd, ctx, [*path, name])

paths = [[]] + list(walk(cli, click.Context(cli), []))
codes = {" ".join(p): main([*p, "--help"]) for p in paths}
print(codes)
sys.exit(max(codes.values()) or main(sys.argv[2:]) if len(sys.argv) > 2 else max(codes.values()))
"""


def _blocked(*args: str) -> subprocess.CompletedProcess[str]:
    modules = {m for mods in _extras.EXTRAS.values() for m in mods}
    modules |= {"uvloop", "httptools", "psycopg_binary"}
    return subprocess.run(
        [sys.executable, "-c", BLOCKED_RUN, ",".join(sorted(modules)), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_help_page_works_without_the_extras() -> None:
    """``coffer --help`` imports every command's module: none may need an extra to load."""
    r = _blocked()
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "'backup': 0" in r.stdout and "'vault serve': 0" in r.stdout


def test_the_vault_server_and_the_demo_name_the_vault_extra(tmp_path: Path) -> None:
    for args in (["vault", "serve", "--db", str(tmp_path / "v.db")], ["demo"]):
        r = _blocked(*args)
        assert r.returncode == 2, (args, r.stdout[-1000:], r.stderr)
        assert "needs the 'vault' extra" in r.stderr and "'coffer-backup[vault]'" in r.stderr
        assert r.stderr.count("\n") == 1
