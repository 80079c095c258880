"""What the Python API's methods return: small frozen records, built from the engine's results.

Rules: every field is a plain value (str, int, datetime, tuple) so a record can be logged,
compared or turned into JSON with ``dataclasses.asdict``; paths keep the byte-exact names the
repository holds (``str`` with surrogateescape — ``os.fsencode`` gives the bytes back). Records
only grow: a field once documented in docs/api.md keeps its name and meaning.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from coffer.engine.snapshot import Snapshot
from coffer.ops.backup import BackupResult
from coffer.ops.check import CheckReport as _EngineCheck
from coffer.ops.restore import RestoreResult


@dataclass(frozen=True)
class SnapshotInfo:
    """One snapshot as ``Repository.snapshots()`` lists it (its header; no tree is read)."""

    id: str
    time: datetime
    hostname: str
    username: str
    paths: tuple[str, ...]
    tags: tuple[str, ...]
    parent: str | None
    skipped: int
    summary: dict[str, Any]

    @classmethod
    def of(cls, snap: Snapshot) -> SnapshotInfo:
        return cls(
            id=snap.id,
            time=datetime.fromisoformat(snap.time),
            hostname=snap.hostname,
            username=snap.username,
            paths=tuple(snap.paths),
            tags=tuple(snap.tags),
            parent=snap.parent,
            skipped=len(snap.skipped),
            summary=dict(snap.summary),
        )


@dataclass(frozen=True)
class Skipped:
    """A source or file a backup could not read (it is listed in the snapshot)."""

    path: str
    error: str


@dataclass(frozen=True)
class BackupSummary:
    """What ``Repository.backup()`` did; ``snapshot_id`` is None after a dry run."""

    snapshot_id: str | None
    dry_run: bool
    files_new: int
    files_changed: int
    files_unchanged: int
    dirs: int
    bytes_read: int
    bytes_new: int
    bytes_stored: int
    skipped: tuple[Skipped, ...]

    @classmethod
    def of(cls, result: BackupResult, dry_run: bool) -> BackupSummary:
        return cls(
            snapshot_id=None if dry_run else result.snapshot.id,
            dry_run=dry_run,
            files_new=result.files_new,
            files_changed=result.files_changed,
            files_unchanged=result.files_unchanged,
            dirs=result.dirs,
            bytes_read=result.bytes_read,
            bytes_new=result.bytes_new,
            bytes_stored=result.bytes_stored,
            skipped=tuple(Skipped(s["path"], s["error"]) for s in result.skipped),
        )


@dataclass(frozen=True)
class RestoreSummary:
    """What ``Repository.restore()`` wrote; ``errors`` lists entries that were not restored."""

    snapshot_id: str
    target: Path
    files: int
    dirs: int
    symlinks: int
    bytes: int
    errors: tuple[Skipped, ...]

    @classmethod
    def of(cls, result: RestoreResult, snapshot_id: str, target: Path) -> RestoreSummary:
        return cls(
            snapshot_id=snapshot_id,
            target=target,
            files=result.files,
            dirs=result.dirs,
            symlinks=result.symlinks,
            bytes=result.bytes,
            errors=tuple(Skipped(e["path"], e["error"]) for e in result.errors),
        )


@dataclass(frozen=True)
class CheckReport:
    """What ``Repository.check()`` verified; ``ok`` is False when ``errors`` is not empty."""

    ok: bool
    errors: tuple[str, ...]
    warnings: tuple[str, ...]
    snapshots: int
    packs: int
    packs_read: int

    @classmethod
    def of(cls, report: _EngineCheck) -> CheckReport:
        return cls(
            ok=report.ok,
            errors=tuple(report.errors),
            warnings=tuple(report.warnings),
            snapshots=report.snapshots,
            packs=report.packs,
            packs_read=report.packs_read,
        )
