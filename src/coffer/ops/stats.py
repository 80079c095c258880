"""Stats: how big the repository is on storage (raw) and what its snapshots restore to.

Rules:
- ``raw`` mode counts what is stored: packs in ``data/`` and their bytes, index and snapshot
  objects, unique blobs in the index with their sealed and uncompressed sizes. The compression
  ratio is uncompressed bytes of unique blobs over their sealed bytes (> 1 means zstd paid
  off); ``dedup_ratio`` is the logical size of all snapshots over the unique blob bytes.
- ``restore`` mode counts what the selected snapshots (all by default) would restore: files,
  directories and bytes, summed over snapshots (a file kept in ten snapshots counts ten times,
  as restic's ``restore-size`` does).
- Nothing is decrypted beyond the index and the snapshot manifests; no pack body is read.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from coffer.backends.base import ObjectType
from coffer.engine.repository import Repository
from coffer.engine.snapshot import Snapshot, walk


@dataclass
class RawStats:
    packs: int = 0
    pack_bytes: int = 0
    index_objects: int = 0
    snapshots: int = 0
    blobs: int = 0
    blob_bytes_stored: int = 0
    blob_bytes_raw: int = 0
    compression_ratio: float = 0.0
    dedup_ratio: float = 0.0

    def to_json(self) -> dict[str, object]:
        return {"mode": "raw", **asdict(self)}


@dataclass
class RestoreStats:
    snapshots: int = 0
    files: int = 0
    dirs: int = 0
    bytes: int = 0

    def to_json(self) -> dict[str, object]:
        return {"mode": "restore", **asdict(self)}


def restore_stats(snapshots: list[Snapshot]) -> RestoreStats:
    out = RestoreStats(snapshots=len(snapshots))
    for snap in snapshots:
        for _path, node in walk(snap.tree):
            if node.type == "file":
                out.files += 1
                out.bytes += node.size
            elif node.type == "dir":
                out.dirs += 1
    return out


def raw_stats(repo: Repository, snapshots: list[Snapshot]) -> RawStats:
    """Storage figures; ``repo`` must have its index loaded."""
    out = RawStats()
    for _name, size in repo.backend.list(ObjectType.DATA):
        out.packs += 1
        out.pack_bytes += size
    out.index_objects = sum(1 for _ in repo.backend.list(ObjectType.INDEX))
    out.snapshots = len(snapshots)
    for blob_id in repo.index.blob_ids():
        loc = repo.index.get(blob_id)
        assert loc is not None
        out.blobs += 1
        out.blob_bytes_stored += loc.length
        out.blob_bytes_raw += loc.raw_length
    if out.blob_bytes_stored:
        out.compression_ratio = round(out.blob_bytes_raw / out.blob_bytes_stored, 4)
    if out.blob_bytes_raw:
        logical = restore_stats(snapshots).bytes
        out.dedup_ratio = round(logical / out.blob_bytes_raw, 4)
    return out
