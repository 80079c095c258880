"""``coffer status``: the age of the last good scheduled backup, per job and repository.

Rules: it reads only this device's records (no repository, no network), so monitoring can call
it every minute; ``--max-age 36h`` exits with code 19 when any job's last success is older (or
missing) — one line per overdue job on stderr, the normal report on stdout.
"""

from __future__ import annotations

from datetime import datetime

import click

from coffer.cli.output import emit_json
from coffer.errors import BackupOverdue
from coffer.ops.retention import parse_duration
from coffer.schedule import spec
from coffer.schedule.report import job_report, lines, overdue


@click.command("status")
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.option("--max-age", metavar="DURATION", help="exit 19 if the last success is older")
def command(names: tuple[str, ...], as_json: bool, max_age: str | None) -> None:
    """Show the age of the last good backup.

    Per scheduled job: the last success, the last failure and the next run."""
    limit = parse_duration(max_age).total_seconds() if max_age else None
    jobs = [spec.load(n) for n in names] if names else spec.all_jobs()
    now = datetime.now().timestamp()
    rows = [job_report(job, now) for job in jobs]
    if as_json:
        emit_json(rows)
    elif not rows:
        click.echo("no scheduled backups on this device (`coffer schedule install` adds one)")
    for row in [] if as_json else rows:
        click.echo("\n".join(lines(row, now)))
    if limit is None:
        return
    late = [why for row in rows if (why := overdue(row, limit))]
    if not rows:
        late = ["no scheduled backup on this device"]
    if late:
        raise BackupOverdue("; ".join(late))
