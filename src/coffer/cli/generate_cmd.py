"""``coffer generate``: man pages and shell completion scripts, from the CLI itself (as restic's
``generate``). Pages: :mod:`coffer.cli.manpage`; completion: click's, for bash, zsh and fish."""

from __future__ import annotations

from pathlib import Path

import click
from click.shell_completion import get_completion_class

from coffer.errors import UsageError

_FILE = click.Path(dir_okay=False, path_type=Path)


def completion_script(shell: str) -> str:
    """The script that makes ``shell`` complete coffer's commands, options and arguments."""
    from coffer.cli.main import cli

    cls = get_completion_class(shell)
    if cls is None:
        raise UsageError(f"no completion for {shell!r}")
    return cls(cli, {}, "coffer", "_COFFER_COMPLETE").source()


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None


@click.command("generate")
@click.option(
    "--man",
    "man_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="write a man page per command into this folder",
)
@click.option("--bash-completion", type=_FILE, help="write the bash completion script here")
@click.option("--zsh-completion", type=_FILE, help="write the zsh completion script here")
@click.option("--fish-completion", type=_FILE, help="write the fish completion script here")
def command(
    man_dir: Path | None,
    bash_completion: Path | None,
    zsh_completion: Path | None,
    fish_completion: Path | None,
) -> None:
    """Write man pages and shell completion scripts (docs/cli.md shows where they go)."""
    if not (man_dir or bash_completion or zsh_completion or fish_completion):
        raise UsageError("nothing to generate: give --man DIR or a --*-completion FILE")
    if man_dir is not None:
        from coffer.cli.main import cli
        from coffer.cli.manpage import pages

        try:
            man_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create {man_dir}: {exc.strerror}") from None
        written = pages(cli)
        for name, text in written.items():
            _write(man_dir / name, text)
        click.echo(f"wrote {len(written)} man pages into {man_dir}")
    for shell, path in (("bash", bash_completion), ("zsh", zsh_completion)):
        if path is not None:
            _write(path, completion_script(shell))
            click.echo(f"wrote the {shell} completion script to {path}")
    if fish_completion is not None:
        _write(fish_completion, completion_script("fish"))
        click.echo(f"wrote the fish completion script to {fish_completion}")
