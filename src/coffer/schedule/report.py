"""``coffer status``: per job (and so per repository), the last good backup and its age, the
last failure and its reason, and the next scheduled run — from the device's records alone.

Rules: nothing here touches a repository or a network (it must answer in an instant, for
monitoring); times are shown in local time with their age; a job whose last success is older
than ``max_age`` (or that never succeeded) is *overdue*, which ``--max-age`` turns into exit
code 19. A failure newer than the last success is shown first: it is what needs attention.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from coffer.schedule import status
from coffer.schedule.spec import Job


def human_size(n: float) -> str:
    for unit in ("B", "KiB", "MiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def human_age(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} d"


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t).astimezone().isoformat(timespec="seconds")


def _run(last: object) -> dict[str, Any] | None:
    if not isinstance(last, dict) or not isinstance(last.get("time"), int | float):
        return None
    return {**last, "time": _iso(last["time"])}


def job_report(job: Job, now: float) -> dict[str, Any]:
    """Everything ``coffer status --json`` says about one job."""
    doc = status.load(job.name)
    ok, bad = status.last_success(doc), status.last_failure(doc)
    nxt = job.when.next_after(datetime.fromtimestamp(now))
    return {
        "job": job.name,
        "repository": job.repository,
        "schedule": job.when.describe(),
        "scheduler": job.mode,
        "last_success": None if ok is None else {
            "time": _iso(ok.time), "age_seconds": round(now - ok.time), "snapshot": ok.snapshot,
            "bytes_added": ok.bytes_added, "files": ok.files, "seconds": ok.seconds,
            "skipped_files": ok.skipped_files, "forgotten": ok.forgotten,
        },
        "last_failure": None if bad is None else {
            "time": _iso(bad.time), "age_seconds": round(now - bad.time),
            "exit_code": bad.exit_code, "reason": bad.reason,
        },
        "last_run": _run(doc.get("last_run")),
        "next_run": nxt.astimezone().isoformat(timespec="seconds"),
    }  # fmt: skip


def overdue(row: dict[str, Any], max_age: float) -> str | None:
    """Why the job is overdue (None when its last success is recent enough)."""
    ok = row["last_success"]
    if ok is None:
        return f"job {row['job']!r} ({row['repository']}) has no successful backup recorded"
    if ok["age_seconds"] > max_age:
        return (
            f"job {row['job']!r} ({row['repository']}): last successful backup "
            f"{human_age(ok['age_seconds'])} ago, older than {human_age(max_age)}"
        )
    return None


def lines(row: dict[str, Any], now: float) -> list[str]:
    """The human view of one job's row."""
    out = [f"{row['job']}: {row['repository']} — {row['schedule']} ({row['scheduler']})"]
    ok, bad = row["last_success"], row["last_failure"]
    if bad is not None and (ok is None or bad["age_seconds"] <= ok["age_seconds"]):
        out.append(
            f"  last failure:  {bad['time'][:16].replace('T', ' ')} "
            f"({human_age(bad['age_seconds'])} ago), exit code {bad['exit_code']}: {bad['reason']}"
        )
    if ok is None:
        out.append("  last success:  none recorded yet")
    else:
        out.append(
            f"  last success:  {ok['time'][:16].replace('T', ' ')} "
            f"({human_age(ok['age_seconds'])} ago), snapshot {ok['snapshot'][:8]}, "
            f"added {human_size(ok['bytes_added'])}"
        )
    nxt = datetime.fromisoformat(row["next_run"]).timestamp()
    out.append(f"  next run:      {row['next_run'][:16].replace('T', ' ')} "
               f"(in {human_age(nxt - now)})")  # fmt: skip
    return out
