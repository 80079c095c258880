"""``coffer check [--read-data | --read-data-subset=N/M|X%]``: verify the repository."""

from __future__ import annotations

import click

from coffer.backends.base import ObjectType
from coffer.cli import jsonstream
from coffer.cli.context import Options, common_options, open_repository
from coffer.cli.jsonstream import progress_for
from coffer.cli.output import plural, warn
from coffer.engine.locks import locked
from coffer.engine.repository import Repository
from coffer.errors import IntegrityError, UsageError
from coffer.ops.check import check
from coffer.ops.verify_state import VerifiedRecord, select_packs


def _save_record(repo: Repository, record: VerifiedRecord) -> None:
    """Persist which packs read back clean; a cache that cannot be written is only a warning."""
    record.forget_missing({name for name, _ in repo.backend.list(ObjectType.DATA)})
    try:
        record.save()
    except OSError as exc:
        warn(f"cannot save the verification record {record.path}: {exc.strerror}")


@click.command("check")
@common_options
@click.option("--read-data", is_flag=True, help="download and verify every pack")
@click.option(
    "--read-data-subset",
    "subset_spec",
    metavar="N/M|X%",
    help="verify one of M subsets of the packs, or the X%% least recently verified ones",
)
def command(opts: Options, read_data: bool, subset_spec: str | None) -> None:
    """Check the repository's structure (and with --read-data, all stored data)."""
    if read_data and subset_spec is not None:
        raise UsageError("--read-data and --read-data-subset exclude each other")
    repo = open_repository(opts)
    progress = progress_for(opts)
    record = VerifiedRecord.load(repo.repo_id)
    subset = None
    with locked(repo):
        if subset_spec is not None:
            repo.load_index()
            subset = select_packs(subset_spec, repo.index.packs, record)
        read_data = read_data or subset_spec is not None
        report = check(
            repo, read_data=read_data, subset=subset, progress=progress, on_verified=record.mark
        )
    if read_data:
        _save_record(repo, record)
    if opts.json:
        jsonstream.summary(
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
            warn(w)
        what = f", read {plural(report.packs_read, 'pack')}" if read_data else ""
        click.echo(
            f"checked {plural(report.snapshots, 'snapshot')}, {plural(report.packs, 'pack')}{what}"
        )
        if report.ok:
            click.echo("no errors were found")
    if not report.ok:
        raise IntegrityError(
            f"check found {plural(len(report.errors), 'problem')}: {report.errors[0]}"
        )
