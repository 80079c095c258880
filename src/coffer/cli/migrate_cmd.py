"""``coffer migrate``: upgrade a format-v1 repository to format v2 (docs/design.md).

Only the config is rewritten (one atomic replace, under the exclusive lock); v1 snapshots stay
as they are and keep restoring. New snapshots are then written in format v2, which older
Coffer versions cannot read — so this is an explicit step, never done behind the user's back.
"""

from __future__ import annotations

import click

from coffer.cli.context import Options, common_options, open_repository
from coffer.cli.output import emit_json
from coffer.engine.locks import locked
from coffer.engine.repository import FORMAT_VERSION


@click.command("migrate")
@common_options
def command(opts: Options) -> None:
    """Upgrade the repository to the current format (v2); v1 snapshots stay readable."""
    repo = open_repository(opts)
    before = repo.format_version
    with locked(repo, exclusive=True):
        changed = repo.upgrade_format()
    if opts.json:
        emit_json({"from": before, "to": repo.format_version, "changed": changed})
    elif changed:
        click.echo(f"repository upgraded from format v{before} to v{FORMAT_VERSION}")
        click.echo("its v1 snapshots stay readable; Coffer 0.1 can no longer open it")
    else:
        click.echo(f"repository is already format v{repo.format_version}: nothing to do")
