"""A scheduled job: what to back up, where, when, and what to forget afterwards.

Rules:

- A job is configuration, never a secret: the repository address, the sources (absolute
  paths), the timing, the forget policy, the scheduler it was installed with, and the Coffer /
  XDG environment variables of the installing shell (so the scheduler's run finds the same
  config folder, state folder and remembered key). It lives in
  ``<config folder>/schedules/<name>.json`` (0600), format version :data:`VERSION`.
- The key comes only from what ``--remember`` kept (or, on a server, systemd credentials; see
  :mod:`coffer.schedule.run`); no password is ever stored in a job or written into a unit.
- Times are the machine's local time (as cron, systemd's ``OnCalendar`` and launchd use them).
  :meth:`When.next_after` computes the next run from the spec alone, for ``coffer status``.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from coffer.errors import UsageError
from coffer.paths import config_dir, write_private

VERSION = 1
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
ENV_PASSED = (
    "COFFER_CONFIG", "COFFER_STATE_DIR", "COFFER_REMEMBER_BACKEND",
    "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME",
)  # fmt: skip
KEEP_RULES = ("last", "hourly", "daily", "weekly", "monthly", "yearly")


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise UsageError(
            f"job name {name!r}: use 1-40 lower-case letters, digits and '-' (starting with a "
            "letter or digit)"
        )
    return name


def parse_hhmm(text: str) -> tuple[int, int]:
    m = _HHMM.match(text.strip())
    if not m:
        raise UsageError(f"time {text!r}: use HH:MM (24-hour clock), e.g. 02:30")
    return int(m.group(1)), int(m.group(2))


def parse_day(text: str) -> int:
    day = text.strip().lower()[:3]
    if day not in DAYS:
        raise UsageError(f"day {text!r}: use mon, tue, wed, thu, fri, sat or sun")
    return DAYS.index(day)


@dataclass(frozen=True)
class When:
    """``daily`` at hour:minute, ``hourly`` at minute, or ``weekly`` on weekday (0 = Monday)."""

    kind: str = "daily"
    hour: int = 2
    minute: int = 0
    weekday: int = 0

    def __post_init__(self) -> None:
        if self.kind not in ("daily", "hourly", "weekly"):
            raise UsageError(f"unknown schedule {self.kind!r}")
        if not (0 <= self.hour < 24 and 0 <= self.minute < 60 and 0 <= self.weekday < 7):
            raise UsageError("schedule time out of range")

    def describe(self) -> str:
        hm = f"{self.hour:02d}:{self.minute:02d}"
        if self.kind == "hourly":
            return f"hourly at minute {self.minute:02d}"
        if self.kind == "weekly":
            return f"weekly on {DAYS[self.weekday].capitalize()} at {hm}"
        return f"daily at {hm}"

    def next_after(self, now: datetime) -> datetime:
        """The first scheduled time strictly after ``now`` (naive local time)."""
        base = now.replace(second=0, microsecond=0)
        if self.kind == "hourly":
            candidate = base.replace(minute=self.minute)
            step = timedelta(hours=1)
        else:
            candidate = base.replace(hour=self.hour, minute=self.minute)
            step = timedelta(days=1)
        while candidate <= now or (self.kind == "weekly" and candidate.weekday() != self.weekday):
            candidate += step
        return candidate


@dataclass(frozen=True)
class Job:
    """One scheduled backup of one repository (see the module rules)."""

    name: str
    repository: str
    sources: tuple[str, ...]
    when: When = field(default_factory=When)
    mode: str = "systemd"
    crontab_file: str | None = None
    on_ac_power: bool = False
    randomized_delay_min: int = 0
    keep: dict[str, int] = field(default_factory=dict)
    keep_within: str | None = None
    prune: bool = False
    tags: tuple[str, ...] = ()
    retries: int = 3
    retry_delay: float = 60.0
    environment: dict[str, str] = field(default_factory=dict)

    def forgets(self) -> bool:
        return any(self.keep.values()) or bool(self.keep_within)

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["version"] = VERSION
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Job:
        if doc.get("version") != VERSION:
            raise UsageError(f"scheduled job of unsupported version {doc.get('version')!r}")
        fields = {k: v for k, v in doc.items() if k != "version"}
        fields["when"] = When(**fields.get("when", {}))
        fields["sources"] = tuple(fields.get("sources", ()))
        fields["tags"] = tuple(fields.get("tags", ()))
        try:
            return cls(**fields)
        except TypeError as exc:
            raise UsageError(f"malformed scheduled job: {exc}") from None


def installing_environment() -> dict[str, str]:
    """The variables a scheduled run needs to see the same device as the installing shell."""
    return {k: os.environ[k] for k in ENV_PASSED if os.environ.get(k)}


def jobs_dir() -> Path:
    return config_dir() / "schedules"


def job_path(name: str) -> Path:
    return jobs_dir() / f"{check_name(name)}.json"


def save(job: Job) -> Path:
    path = job_path(job.name)
    write_private(path, json.dumps(job.to_json(), indent=1, sort_keys=True).encode() + b"\n")
    return path


def load(name: str) -> Job:
    path = job_path(name)
    try:
        doc = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise UsageError(
            f"no scheduled job {name!r} on this device (`coffer schedule status` lists them)"
        ) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"cannot read scheduled job {path}: {exc}") from None
    if not isinstance(doc, dict):
        raise UsageError(f"{path} is not a scheduled job")
    return Job.from_json(doc)


def all_jobs() -> list[Job]:
    folder = jobs_dir()
    if not folder.is_dir():
        return []
    return [load(p.stem) for p in sorted(folder.glob("*.json")) if _NAME.match(p.stem)]


def remove(name: str) -> bool:
    try:
        job_path(name).unlink()
    except FileNotFoundError:
        return False
    return True
