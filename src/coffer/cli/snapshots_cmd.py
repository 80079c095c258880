"""``coffer snapshots``: list snapshots, oldest first."""

from __future__ import annotations

import click

from coffer.cli.context import Options, common_options, open_repository
from coffer.cli.output import emit_json, human_bytes
from coffer.engine.snapshot import walk


@click.command("snapshots")
@common_options
def command(opts: Options) -> None:
    """List the snapshots in the repository."""
    repo = open_repository(opts)
    snaps = sorted(repo.snapshots(), key=lambda s: s.time)
    rows = []
    for s in snaps:
        size = sum(n.size for _, n in walk(s.tree) if n.type == "file")
        rows.append(
            {
                "id": s.id,
                "time": s.time,
                "hostname": s.hostname,
                "paths": s.paths,
                "tags": s.tags,
                "size": size,
                "parent": s.parent,
                "skipped": len(s.skipped),
                "summary": s.summary,
            }
        )
    if opts.json:
        emit_json(rows)
        return
    if not rows:
        click.echo("no snapshots")
        return
    click.echo(f"{'ID':<10}{'time':<27}{'host':<16}{'size':>11}  paths")
    for r in rows:
        paths = ", ".join(r["paths"])  # type: ignore[arg-type]
        click.echo(
            f"{r['id'][:8]:<10}{r['time'][:26]:<27}{r['hostname'][:15]:<16}"  # type: ignore[index]
            f"{human_bytes(r['size']):>11}  {paths}"  # type: ignore[arg-type]
        )
    click.echo(f"{len(rows)} snapshots")
