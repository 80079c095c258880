"""The device record: what this device has seen of one repository, kept between commands.

Rules:
- One JSON file per repository: ``paths.state_dir()/freshness/<repository ID hex>.json``, mode
  0600 in a 0700 folder, replaced atomically (:func:`coffer.paths.write_private`). Every change
  is a read-modify-write under an exclusive ``fcntl`` lock on ``<ID>.lock`` beside it
  (:meth:`RecordStore.update`), so two commands on one device merge instead of losing a step.
- The record only moves forward: counters are merged by ``max``; nothing but
  ``--accept-rollback`` (which adds an *accepted* range, never lowers a counter) makes a loss
  acceptable.
- It holds no secret: writer IDs, counters, object IDs, times, host names and the witness URL.
  A device record is evidence for this device only — whoever can write the user's state folder
  can already do worse, so it is not authenticated.
- A record that cannot be parsed is moved aside (``.damaged``) and a new one started; the
  caller is told (:attr:`RecordStore.damaged`).

Layout (``v`` 1)::

    {"v": 1, "repository": hex(64), "writer": hex(32), "own_seq": int, "created": time,
     "seen": {writer: {"seq", "id", "kind", "time", "hostname", "since"}},
     "accepted": {writer: [[first, last], ...]},
     "witness": url | null, "witness_pending": bool}

``writer`` is this device's writer ID for the repository and ``own_seq`` the last counter it
committed (only after the object was stored); ``seen`` is, per writer, the newest object this
device has seen (written or read): its counter, object ID, kind, sealed time and host, and
``since``, when this device first saw it — so a refusal can say what is missing and since when.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from coffer import paths

VERSION = 1


def now_text() -> str:
    """The current time as the record writes it (RFC 3339 UTC, seconds)."""
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class SeenObject:
    """The newest object of one writer that this device has seen."""

    seq: int
    id: str = ""
    kind: str = ""  # "snapshot" | "forget" | "removed" (known only from a forget record)
    time: str = ""  # the object's own sealed time
    hostname: str = ""
    since: str = ""  # when this device first saw it


@dataclass
class DeviceRecord:
    """One repository as this device knows it (module docstring: the layout)."""

    repository: str
    writer: str
    own_seq: int = 0
    created: str = ""
    seen: dict[str, SeenObject] = field(default_factory=dict)
    accepted: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    witness: str | None = None
    witness_pending: bool = False

    @classmethod
    def new(cls, repository: str) -> DeviceRecord:
        """A record for a repository this device has not seen: a fresh random writer ID."""
        return cls(repository, secrets.token_hex(16), created=now_text())

    def known(self) -> dict[str, int]:
        """Per writer, the newest counter this device has seen (its own committed one too)."""
        out = {w: s.seq for w, s in self.seen.items()}
        if self.own_seq:
            out[self.writer] = max(out.get(self.writer, 0), self.own_seq)
        return out

    def see(self, writer: str, obj: SeenObject) -> bool:
        """Remember ``obj`` if it is newer than what this device knew of ``writer``."""
        old = self.seen.get(writer)
        if old is not None and old.seq >= obj.seq:
            return False
        obj.since = obj.since or now_text()
        self.seen[writer] = obj
        return True

    def accept(self, writer: str, first: int, last: int) -> None:
        """``--accept-rollback``: the objects ``first..last`` of ``writer`` are gone for good."""
        ranges = self.accepted.setdefault(writer, [])
        if (first, last) not in ranges:
            ranges.append((first, last))
            ranges.sort()

    def to_json(self) -> dict[str, Any]:
        return {
            "v": VERSION,
            "repository": self.repository,
            "writer": self.writer,
            "own_seq": self.own_seq,
            "created": self.created,
            "seen": {w: asdict(s) for w, s in sorted(self.seen.items())},
            "accepted": {w: [list(r) for r in rs] for w, rs in sorted(self.accepted.items())},
            "witness": self.witness,
            "witness_pending": self.witness_pending,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> DeviceRecord:
        if doc.get("v") != VERSION:
            raise ValueError(f"unknown device record version {doc.get('v')!r}")
        seen = {str(w): SeenObject(**s) for w, s in doc.get("seen", {}).items()}
        accepted = {
            str(w): [(int(a), int(b)) for a, b in rs] for w, rs in doc.get("accepted", {}).items()
        }
        witness = doc.get("witness")
        return cls(
            repository=str(doc["repository"]),
            writer=str(doc["writer"]),
            own_seq=int(doc.get("own_seq", 0)),
            created=str(doc.get("created", "")),
            seen=seen,
            accepted=accepted,
            witness=str(witness) if witness else None,
            witness_pending=bool(doc.get("witness_pending", False)),
        )


class RecordStore:
    """The record file of one repository on this device."""

    def __init__(self, repo_id: bytes, root: Path | None = None) -> None:
        self.repository = repo_id.hex()
        self.folder = root if root is not None else paths.state_dir() / "freshness"
        self.path = self.folder / f"{self.repository}.json"
        self.damaged: str | None = None  # why a record file was set aside, when one was

    def load(self) -> DeviceRecord | None:
        """The record, or None when this device has none for the repository."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            doc = json.loads(raw)
            record = DeviceRecord.from_json(doc)
            if record.repository != self.repository:
                raise ValueError("it names another repository")
            return record
        except (ValueError, TypeError, KeyError) as exc:
            self._set_aside(exc)
            return None

    @contextlib.contextmanager
    def update(self) -> Iterator[DeviceRecord]:
        """Lock, read (or start) the record, let the caller change it, write it back."""
        paths.private_dir(self.folder)
        fd = os.open(self.folder / f"{self.repository}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            record = self.load() or DeviceRecord.new(self.repository)
            before = record.to_json()
            yield record
            after = record.to_json()
            if after != before or not self.path.exists():
                data = json.dumps(after, indent=1, sort_keys=True).encode() + b"\n"
                paths.write_private(self.path, data)
        finally:
            os.close(fd)  # closing releases the lock

    def writing_lock(self) -> int:
        """Take this device's writer lock for the repository (blocking); return its descriptor.

        Held from choosing a counter until the object carrying it is stored (or abandoned), so
        two processes on one device never stamp two objects with the same counter. Closing the
        descriptor releases it.
        """
        paths.private_dir(self.folder)
        fd = os.open(self.folder / f"{self.repository}.writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _set_aside(self, exc: BaseException) -> None:
        aside = self.path.with_suffix(".json.damaged")
        with contextlib.suppress(OSError):
            os.replace(self.path, aside)
        self.damaged = f"{self.path} could not be read ({exc}); moved to {aside.name}"
