"""``coffer schedule install|status|remove|run``: backups that run by themselves.

Rules:

- ``install`` opens the repository once (asking at the terminal if needed) and remembers its key
  (as ``--remember`` does), because the scheduled run may use nothing else (``--no-remember``:
  a server whose unit loads the key from systemd credentials); then it saves the job
  (:mod:`coffer.schedule.spec`) and writes the scheduler files
  (:mod:`coffer.schedule.install`). No password is written anywhere.
- Timing: ``--daily HH:MM`` (the default, at 02:00), ``--hourly`` or ``--weekly DAY HH:MM``;
  ``--randomized-delay MIN`` spreads the start; ``--on-ac-power`` skips runs on battery.
- ``--forget-keep-*`` give the forget policy applied after each backup, to this device's
  snapshots only; ``--prune`` prunes afterwards.
- ``run NAME`` is what the scheduler executes (run it by hand to try a job); its exit codes are
  the README's.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import click

from coffer.cli.context import Options, common_options, open_repository, repository_address
from coffer.cli.output import emit_json
from coffer.errors import UsageError
from coffer.ops.retention import parse_duration
from coffer.schedule import install as installer
from coffer.schedule import spec
from coffer.schedule import status as run_status
from coffer.schedule.render import run_argv
from coffer.schedule.report import job_report
from coffer.schedule.spec import Job, When
from coffer.unlock import remember


@click.group("schedule")
def schedule() -> None:
    """Back up by itself: a systemd user timer, a cron entry or a launchd agent."""


def _when(daily: str | None, hourly: bool, weekly: tuple[str, str] | None) -> When:
    if (daily is not None) + hourly + (weekly is not None) > 1:
        raise UsageError("give one of --daily, --hourly and --weekly")
    if hourly:
        return When("hourly", minute=0)
    if weekly:
        hour, minute = spec.parse_hhmm(weekly[1])
        return When("weekly", hour, minute, spec.parse_day(weekly[0]))
    hour, minute = spec.parse_hhmm(daily or "02:00")
    return When("daily", hour, minute)


def _keep_options(func: Any) -> Any:
    for rule in reversed(spec.KEEP_RULES):
        func = click.option(
            f"--forget-keep-{rule}", f"keep_{rule}", type=click.IntRange(min=-1), default=0,
            help=f"after each backup, forget all but {rule} N (this device's snapshots)",
        )(func)  # fmt: skip
    return func


@schedule.command("install")
@common_options
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--name", default="default", show_default=True, help="the job's name")
@click.option("--daily", metavar="HH:MM", help="every day at this time (default 02:00)")
@click.option("--hourly", is_flag=True, help="every hour")
@click.option("--weekly", nargs=2, metavar="DAY HH:MM", help="once a week, e.g. sun 03:00")
@click.option("--on-ac-power", is_flag=True, help="skip runs while on battery")
@click.option("--randomized-delay", type=click.IntRange(0, 24 * 60), default=0, metavar="MIN",
              help="start up to MIN minutes late (spreads the load)")  # fmt: skip
@_keep_options
@click.option("--forget-keep-within", metavar="DURATION", help="also keep all within DURATION")
@click.option("--prune", is_flag=True, help="prune after forgetting")
@click.option("--tag", "tags", multiple=True, help="tag the snapshots (repeatable)")
@click.option("--mode", type=click.Choice(["auto", *installer.MODES]), default="auto",
              show_default=True, help="the scheduler to use")  # fmt: skip
@click.option("--crontab-file", type=click.Path(dir_okay=False, path_type=Path),
              help="cron mode: write the line into this crontab-format file instead")  # fmt: skip
@click.option("--no-enable", is_flag=True, help="write the files, do not activate them")
@click.option("--no-remember", is_flag=True,
              help="check the key, do not remember it (systemd credentials)")  # fmt: skip
@click.option("--retries", type=click.IntRange(0, 10), default=3, show_default=True,
              help="retries of transient storage errors")  # fmt: skip
@click.option("--retry-delay", type=click.FloatRange(0), default=60.0, show_default=True,
              metavar="SECONDS", help="first retry delay (doubles each time)")  # fmt: skip
def install_cmd(
    opts: Options,
    sources: tuple[Path, ...],
    name: str,
    daily: str | None,
    hourly: bool,
    weekly: tuple[str, str] | None,
    forget_keep_within: str | None,
    mode: str,
    crontab_file: Path | None,
    no_enable: bool,
    no_remember: bool,
    **rest: Any,
) -> None:
    """Back up SOURCES on a schedule.

    The key is remembered on this device (the scheduled run uses nothing else); no password is
    written into a unit, a crontab or a command line."""
    spec.check_name(name)
    when = _when(daily, hourly, weekly or None)
    if forget_keep_within:
        parse_duration(forget_keep_within)
    if crontab_file is not None and mode not in ("auto", "cron"):
        raise UsageError("--crontab-file goes with --mode cron")
    chosen = "cron" if crontab_file is not None else mode
    chosen = installer.detect_mode() if chosen == "auto" else chosen
    installer.check_usable(chosen, not no_enable, crontab_file)
    address = repository_address(opts)
    opts.remember = not no_remember  # the scheduled run can use nothing else
    repo = open_repository(opts)
    if not no_remember and remember.recall(repo.repo_id) is None:
        raise UsageError("the repository's key could not be remembered on this device")
    job = Job(
        name=name, repository=address, sources=tuple(str(p.resolve()) for p in sources),
        when=when, mode=chosen, crontab_file=str(crontab_file.resolve()) if crontab_file else None,
        on_ac_power=rest["on_ac_power"], randomized_delay_min=rest["randomized_delay"],
        keep={r: rest[f"keep_{r}"] for r in spec.KEEP_RULES if rest[f"keep_{r}"]},
        keep_within=forget_keep_within, prune=rest["prune"], tags=tuple(rest["tags"]),
        retries=rest["retries"], retry_delay=rest["retry_delay"],
        environment=spec.installing_environment(),
    )  # fmt: skip
    spec.save(job)
    done = installer.install(job, enable=not no_enable)
    _report_install(opts, job, done)


def _report_install(opts: Options, job: Job, done: installer.Installed) -> None:
    nxt = job.when.next_after(datetime.now()).strftime("%Y-%m-%d %H:%M")
    if opts.json:
        emit_json({**job.to_json(), "files": done.files, "enabled": done.enabled,
                   "next_run": nxt, "notes": done.notes})  # fmt: skip
        return
    click.echo(
        f"scheduled backup {job.name!r}: {', '.join(job.sources)} → {job.repository}, "
        f"{job.when.describe()} ({done.mode})"
    )
    for path in done.files:
        click.echo(f"  wrote {path}")
    for note in done.notes:
        click.echo(f"  {note}")
    click.echo(f"  next run {nxt}; try it now with `coffer schedule run {job.name}`")
    click.echo(
        "  the job opens the repository with the key remembered on this device; "
        "`coffer key forget` would stop it"
    )


@schedule.command("status")
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def status_cmd(names: tuple[str, ...], as_json: bool) -> None:
    """Show this device's scheduled jobs.

    Their scheduler files, the command line the scheduler runs, the last result."""
    jobs = [spec.load(n) for n in names] if names else spec.all_jobs()
    now = datetime.now().timestamp()
    rows = []
    for job in jobs:
        row = job_report(job, now)
        row.update(files=installer.installed_files(job), timer=installer.timer_state(job),
                   command=run_argv(job), crontab_file=job.crontab_file)  # fmt: skip
        rows.append(row)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("no scheduled backups on this device (`coffer schedule install` adds one)")
    for row in rows:
        click.echo(f"{row['job']}: {row['repository']} — {row['schedule']} ({row['scheduler']})")
        missing = "MISSING (run `coffer schedule install` again)"
        files = ", ".join(row["files"]) or ("none" if row["scheduler"] == "none" else missing)
        click.echo(f"  files:   {files}")
        if row["timer"] is not None:
            click.echo(f"  timer:   {row['timer']}")
        click.echo(f"  runs:    {' '.join(row['command'])}")
        last = row["last_run"] or {}
        click.echo(f"  last:    {last.get('result', 'never run')}" + (
            f" (exit code {last['exit_code']})" if "exit_code" in last else ""))  # fmt: skip
        click.echo(f"  next:    {row['next_run'][:16].replace('T', ' ')}")


@schedule.command("remove")
@click.argument("name", default="default")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def remove_cmd(name: str, as_json: bool) -> None:
    """Stop and delete a scheduled job.

    Its backups stay in the repository; its remembered key stays until `coffer key forget`."""
    job = spec.load(name)
    removed = installer.uninstall(job)
    spec.remove(job.name)
    run_status.remove(job.name)
    if as_json:
        emit_json({"removed": job.name, "files": removed})
        return
    click.echo(f"removed scheduled backup {job.name!r}" + (
        f" ({', '.join(removed)})" if removed else ""))  # fmt: skip
    click.echo("  the remembered key stays until `coffer key forget`")


@schedule.command("run")
@click.argument("name", default="default")
@click.option("--wait", type=click.FloatRange(0), default=0.0, metavar="SECONDS",
              help="if the job is already running, wait this long before skipping")  # fmt: skip
@click.option("--random-delay", type=click.FloatRange(0), default=0.0, metavar="SECONDS",
              help="sleep a random time up to SECONDS first (cron and launchd)")  # fmt: skip
def run_cmd(name: str, wait: float, random_delay: float) -> None:
    """Run a scheduled job now, as its timer does.

    One result line on stderr, the job's status file updated, the README's exit codes."""
    from coffer.schedule.run import RunSettings, report, run_job

    code = run_job(spec.load(name), RunSettings(wait=wait, random_delay=random_delay), report)
    if code:
        raise click.exceptions.Exit(code)
