"""This device's writer clock for one repository, kept in the device record.

Rules:
- The writer ID is the device record's (one per device and repository, random, kept across
  commands), so this device's objects form one gap-free counter sequence.
- The next counter is ``max(the record's own committed seq, the newest seq storage shows for
  this writer) + 1``: a record that is behind (another process on this device, a restored home
  folder) never makes a counter go round twice.
- A counter is committed to the record only in :meth:`DeviceClock.saved`, which the repository
  calls after the object was stored — a failed upload uses up nothing, so it leaves no gap that
  would later look like a deletion. Then ``after_save`` runs (the witness update).
"""

from __future__ import annotations

from collections.abc import Callable

from coffer.engine.snapshot import ForgetRecord, Snapshot
from coffer.freshness.record import RecordStore, SeenObject


class DeviceClock:
    """A :class:`~coffer.engine.repository.WriterClock` backed by the device record."""

    def __init__(
        self,
        store: RecordStore,
        writer: str,
        own_seq: int,
        listed: Callable[[], dict[str, int]],
        after_save: Callable[[Snapshot | ForgetRecord], None] | None = None,
    ) -> None:
        self.store = store
        self.writer = writer
        self._own = own_seq
        self._listed = listed
        self._after_save = after_save

    def next_seq(self) -> int:
        return max(self._own, self._listed().get(self.writer, 0)) + 1

    def saved(self, obj: Snapshot | ForgetRecord) -> None:
        with self.store.update() as record:
            if obj.writer == record.writer:
                record.own_seq = max(record.own_seq, obj.seq)
                self._own = max(self._own, record.own_seq)
            record.see(obj.writer, seen_object(obj))
            if record.witness and obj.writer == record.writer:
                record.witness_pending = True
        if self._after_save is not None:
            self._after_save(obj)


def seen_object(obj: Snapshot | ForgetRecord) -> SeenObject:
    """What the record keeps of an object it saw."""
    kind = "snapshot" if isinstance(obj, Snapshot) else "forget"
    return SeenObject(obj.seq, obj.id, kind, obj.time, obj.hostname)
