"""``--help`` for every command, man pages from ``coffer generate``, shell completion."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from engine.cli_support import run_cli

from coffer.cli.main import cli
from coffer.cli.manpage import exit_codes

README = Path(__file__).resolve().parents[2] / "README.md"


def _all_commands() -> Iterator[list[str]]:
    def walk(group: click.Group, ctx: click.Context, path: list[str]) -> Iterator[list[str]]:
        for name in group.list_commands(ctx):
            cmd = group.get_command(ctx, name)
            assert cmd is not None
            yield [*path, name]
            if isinstance(cmd, click.Group):
                yield from walk(cmd, click.Context(cmd, parent=ctx), [*path, name])

    yield []
    yield from walk(cli, click.Context(cli), [])


COMMANDS = list(_all_commands())


def _command(path: list[str]) -> click.Command:
    cmd: click.Command = cli
    ctx = click.Context(cli)
    for name in path:
        assert isinstance(cmd, click.Group)
        found = cmd.get_command(ctx, name)
        assert found is not None
        cmd, ctx = found, click.Context(found, parent=ctx)
    return cmd


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "coffer")
def test_help_is_whole_and_lists_own_options_first(
    path: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    r = run_cli(capsys, *path, "--help")
    assert r.code == 0 and r.err == "", r.err
    usage, _, text = r.out.partition("\n")  # "[ARGS]..." in the usage line means "several"
    assert usage.startswith("Usage: coffer")
    cut = [line for line in text.splitlines() if line.rstrip().endswith(("...", "…"))]
    assert not cut, cut  # click marks a cut-off help text with a trailing "..."
    if "Common options:" in text:
        assert text.index("Options:") < text.index("Common options:")
        common = text[text.index("Common options:") :]
        assert "--repo" in common and "--json" in common
        own = text[text.index("Options:") : text.index("Common options:")]
        assert "--repo" not in own and "--help" in own


GROUPS = [p for p in COMMANDS if isinstance(_command(p), click.Group)]


@pytest.mark.parametrize("path", GROUPS, ids=lambda p: " ".join(p) or "coffer")
def test_a_group_lists_each_subcommand_s_whole_first_sentence(
    path: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    r = run_cli(capsys, *path, "--help")
    listed = " ".join(r.out.split("Commands:", 1)[1].split())
    group = _command(path)
    assert isinstance(group, click.Group)
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        assert cmd is not None
        doc = " ".join((cmd.help or "").split("\n\n")[0].split())
        sentence = " ".join(cmd.get_short_help_str(limit=1 << 16).split())
        assert f"{name} {sentence}" in listed and doc.startswith(sentence.rstrip(".")), name


def test_backup_help_shows_its_options_before_the_repository_ones(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = run_cli(capsys, "backup", "--help").out
    for own in ("--exclude", "--one-file-system", "--dry-run", "--tag"):
        assert text.index(own) < text.index("Common options:"), own


def test_generate_man_pages_that_groff_reads_without_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    r = run_cli(capsys, "generate", "--man", str(tmp_path / "man"))
    assert r.code == 0, r.err
    pages = sorted(p.name for p in (tmp_path / "man").iterdir())
    expected = {"-".join(["coffer", *p]) + ".1" for p in COMMANDS}
    assert set(pages) == expected
    root = (tmp_path / "man" / "coffer.1").read_text()
    assert ".SH EXIT STATUS" in root and ".SH ENVIRONMENT" in root
    backup = (tmp_path / "man" / "coffer-backup.1").read_text()
    assert backup.index("\\-\\-exclude") < backup.index(".SH COMMON OPTIONS")
    assert all(ord(ch) < 128 for ch in backup)  # non-ASCII is escaped
    groff = shutil.which("groff")
    if groff is None:
        pytest.skip("groff is not installed: the pages were written but not rendered")
    for page in (tmp_path / "man").iterdir():
        done = subprocess.run(
            [groff, "-man", "-Tutf8", "-ww", "-z", str(page)], capture_output=True, text=True
        )
        assert done.returncode == 0 and done.stderr == "", (page.name, done.stderr)


def test_the_man_page_exit_codes_are_the_readme_s() -> None:
    table = re.findall(r"^\| (\d+) \|", README.read_text(), re.MULTILINE)
    assert {int(c) for c in table} == {code for code, _ in exit_codes()}


def _complete(words: str, cword: int) -> list[str]:
    env = {"COMP_WORDS": words, "COMP_CWORD": str(cword), "_COFFER_COMPLETE": "bash_complete"}
    done = subprocess.run(
        [sys.executable, "-m", "coffer"], env={**_base_env(), **env},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return [line.split(",", 1)[1] for line in done.stdout.splitlines()]


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(("COMP_", "_COFFER"))}


def test_shell_completion_completes_commands_and_options() -> None:
    assert "backup" in _complete("coffer bac", 1)
    assert {"--exclude", "--exclude-file", "--exclude-caches"} <= set(
        _complete("coffer backup --excl", 2)
    )
    assert {"serve", "settings"} <= set(_complete("coffer vault se", 2))


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_generate_writes_each_completion_script(
    shell: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / f"coffer.{shell}"
    r = run_cli(capsys, "generate", f"--{shell}-completion", str(out))
    assert r.code == 0, r.err
    script = out.read_text()
    assert "_COFFER_COMPLETE" in script
    if shell == "bash" and shutil.which("bash"):
        done = subprocess.run(
            ["bash", "-c", f"source {out} && complete -p coffer"], capture_output=True, text=True
        )
        assert "coffer" in done.stdout, done.stderr


def test_generate_without_a_target_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    r = run_cli(capsys, "generate")
    assert r.code == 2 and "nothing to generate" in r.err
