"""The result of each scheduled run, kept on the device for ``coffer status``.

Rules:

- One JSON file per job in ``<state folder>/schedule/<name>.json`` (0600, written atomically),
  format version :data:`VERSION`: the last successful run (time, snapshot, bytes added, files,
  seconds, partial), the last failure (time, exit code, reason), and the last run of any kind
  (including a skip, with its reason). A failure never erases the last success.
- Times are Unix seconds (UTC); ages and "next run" are computed when shown.
- A status file that does not parse is reported as "no runs recorded", never a crash.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coffer.paths import state_dir, write_private

VERSION = 1


def status_path(name: str) -> Path:
    return state_dir() / "schedule" / f"{name}.json"


def lock_path(name: str) -> Path:
    return state_dir() / "schedule" / f"{name}.lock"


@dataclass(frozen=True)
class Success:
    time: float
    snapshot: str
    bytes_added: int
    files: int
    seconds: float
    skipped_files: int = 0
    forgotten: int = 0


@dataclass(frozen=True)
class Failure:
    time: float
    exit_code: int
    reason: str


def load(name: str) -> dict[str, Any]:
    """The job's status document (empty when there is none or it does not parse)."""
    try:
        doc = json.loads(status_path(name).read_text("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    return doc if isinstance(doc, dict) and doc.get("version") == VERSION else {}


def last_success(doc: dict[str, Any]) -> Success | None:
    try:
        return Success(**doc["last_success"])
    except (KeyError, TypeError):
        return None


def last_failure(doc: dict[str, Any]) -> Failure | None:
    try:
        return Failure(**doc["last_failure"])
    except (KeyError, TypeError):
        return None


def _write(name: str, repository: str, update: dict[str, Any]) -> None:
    doc = load(name) or {"version": VERSION}
    doc.update(update, job=name, repository=repository)
    write_private(status_path(name), json.dumps(doc, indent=1, sort_keys=True).encode() + b"\n")


def record_success(name: str, repository: str, success: Success) -> None:
    run = {"time": success.time, "result": "ok", "exit_code": 3 if success.skipped_files else 0}
    _write(name, repository, {"last_success": vars(success), "last_run": run})


def record_failure(name: str, repository: str, failure: Failure) -> None:
    run = {"time": failure.time, "result": "failed", "exit_code": failure.exit_code}
    _write(name, repository, {"last_failure": vars(failure), "last_run": run})


def record_skip(name: str, repository: str, reason: str) -> None:
    run = {"time": time.time(), "result": "skipped", "exit_code": 0, "reason": reason}
    _write(name, repository, {"last_run": run})


def remove(name: str) -> None:
    status_path(name).unlink(missing_ok=True)
    lock_path(name).unlink(missing_ok=True)
