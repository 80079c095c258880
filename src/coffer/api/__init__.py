"""The implementation of Coffer's Python API (``import coffer``; docs/api.md).

The public names are exported by :mod:`coffer` itself; import them from there. This package and
every other module under ``coffer`` are internal and may change without notice.
"""

from coffer.api.repository import Repository
from coffer.api.results import BackupSummary, CheckReport, RestoreSummary, Skipped, SnapshotInfo

__all__ = [
    "BackupSummary",
    "CheckReport",
    "Repository",
    "RestoreSummary",
    "Skipped",
    "SnapshotInfo",
]
