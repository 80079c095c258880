"""``coffer check [--read-data]``: verify the repository."""

from __future__ import annotations

import click

from coffer.cli.context import Options, common_options, open_repository
from coffer.cli.output import BarProgress, emit_json
from coffer.engine.check import check
from coffer.engine.locks import locked
from coffer.errors import IntegrityError


@click.command("check")
@common_options
@click.option("--read-data", is_flag=True, help="download and verify every pack")
def command(opts: Options, read_data: bool) -> None:
    """Check the repository's structure (and with --read-data, all stored data)."""
    repo = open_repository(opts)
    progress = BarProgress(enabled=not (opts.quiet or opts.json))
    with locked(repo):
        report = check(repo, read_data=read_data, progress=progress)
    if opts.json:
        emit_json(
            {
                "ok": report.ok,
                "errors": report.errors,
                "warnings": report.warnings,
                "snapshots": report.snapshots,
                "packs": report.packs,
                "packs_read": report.packs_read,
                "blobs_verified": report.blobs,
            }
        )
    else:
        for w in report.warnings:
            click.echo(f"warning: {w}", err=True)
        what = f", read {report.packs_read} packs" if read_data else ""
        click.echo(f"checked {report.snapshots} snapshots, {report.packs} packs{what}")
        if report.ok:
            click.echo("no errors were found")
    if not report.ok:
        raise IntegrityError(f"check found {len(report.errors)} problem(s): {report.errors[0]}")
