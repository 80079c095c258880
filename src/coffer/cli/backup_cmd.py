"""``coffer backup SOURCE...``: back up files, folders and SQLite databases."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import click

from coffer.cli import jsonstream
from coffer.cli.context import Options, common_options, open_repository
from coffer.cli.exclude_options import exclude_options
from coffer.cli.jsonstream import progress_for
from coffer.cli.output import human_bytes, plural, safe_text
from coffer.engine.locks import locked
from coffer.errors import PartialBackup
from coffer.ops.backup import BackupOptions, BackupResult, backup
from coffer.ops.exclude import ExcludeRules


def summary(result: BackupResult, dry_run: bool = False) -> dict[str, object]:
    return {
        "snapshot": None if dry_run else result.snapshot.id,
        "dry_run": dry_run,
        "files_new": result.files_new,
        "files_changed": result.files_changed,
        "files_unchanged": result.files_unchanged,
        "dirs": result.dirs,
        "bytes_read": result.bytes_read,
        "bytes_new": result.bytes_new,
        "bytes_stored": result.bytes_stored,
        "blobs_new": result.blobs_new,
        "packs": result.packs,
        "sources": [
            {
                "path": s.path,
                "files": s.files,
                "bytes_read": s.bytes_read,
                "bytes_new": s.bytes_new,
                "bytes_stored": s.bytes_stored,
            }
            for s in result.sources
        ],
        "skipped": result.skipped,
    }


def _print_human(result: BackupResult, seconds: float, dry_run: bool = False) -> None:
    saved = "dry run, nothing saved" if dry_run else f"snapshot {result.snapshot.id[:8]} saved"
    click.echo(
        f"{saved}: {result.files_new} new, "
        f"{result.files_changed} changed, {result.files_unchanged} unchanged files"
    )
    for s in result.sources:
        read, new = human_bytes(s.bytes_read), human_bytes(s.bytes_new)
        click.echo(f"  {safe_text(s.path)}: read {read}, new {new}")
    verb = "would add" if dry_run else "added"
    click.echo(
        f"{verb} {human_bytes(result.bytes_stored)} to the repository "
        f"({human_bytes(result.bytes_new)} of new data) in {seconds:.1f} s"
    )


@click.command("backup")
@common_options
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--tag", "tags", multiple=True, help="tag the snapshot (repeatable)")
@click.option("--host", help="hostname to record (default: this machine's)")
@click.option("--parent", help="snapshot to compare against (default: latest of the same sources)")
@click.option("--force", is_flag=True, help="re-read every file, ignoring the parent snapshot")
@click.option(
    "--db-mode",
    type=click.Choice(["logical", "pages"]),
    help="how SQLite databases are stored (default: the repository's setting)",
)
@exclude_options
@click.option("-n", "--dry-run", is_flag=True, help="do everything but write to the repository")
def command(
    opts: Options,
    sources: tuple[Path, ...],
    tags: tuple[str, ...],
    host: str | None,
    parent: str | None,
    force: bool,
    db_mode: str | None,
    exclude: ExcludeRules,
    dry_run: bool,
) -> None:
    """Back up SOURCES (files or folders) into a new snapshot."""
    repo = open_repository(opts)
    bopts = BackupOptions(tags=list(tags), parent=parent, use_parent=not force, db_mode=db_mode)
    bopts.exclude, bopts.dry_run = exclude, dry_run
    if host:
        bopts.hostname = host
    progress, started = progress_for(opts), time.monotonic()
    with contextlib.nullcontext() if dry_run else locked(repo):  # a dry run writes no lock
        repo.load_index()
        result = backup(repo, list(sources), bopts, progress)
    seconds = time.monotonic() - started
    if opts.json:
        jsonstream.summary(summary(result, dry_run))
    else:
        _print_human(result, seconds, dry_run)
    if result.skipped:
        where = "(dry run)" if dry_run else f"in snapshot {result.snapshot.id[:8]} as skipped"
        raise PartialBackup(
            f"{plural(len(result.skipped), 'entry', 'entries')} could not be read and "
            f"{'is' if len(result.skipped) == 1 else 'are'} listed {where}"
        )
