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
- Two processes on one device (a scheduled run and a manual one) must not stamp two objects with
  one counter: a twin would "account" for its sibling, so the provider could hide the newest
  one unnoticed, and a witness would know only one of them. :meth:`next_seq` therefore takes
  the device's writer lock and reads the committed counter afresh under it; the lock is held
  until :meth:`saved` or :meth:`abandon` (the store of one small object), never across the
  witness update.
"""

from __future__ import annotations

import os
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
        self._lock: int | None = None  # the device's writer lock, from next_seq to saved

    def next_seq(self) -> int:
        if self._lock is None:
            self._lock = self.store.writing_lock()
        current = self.store.load()
        if current is not None and current.writer == self.writer:
            self._own = max(self._own, current.own_seq)
        return max(self._own, self._listed().get(self.writer, 0)) + 1

    def saved(self, obj: Snapshot | ForgetRecord) -> None:
        try:
            with self.store.update() as record:
                if obj.writer == record.writer:
                    record.own_seq = max(record.own_seq, obj.seq)
                    self._own = max(self._own, record.own_seq)
                record.see(obj.writer, seen_object(obj))
                if record.witness and obj.writer == record.writer:
                    record.witness_pending = True
        finally:
            self.abandon()
        if self._after_save is not None:
            self._after_save(obj)

    def abandon(self) -> None:
        """The stamped object was not stored: release the writer lock (the counter is unused)."""
        lock, self._lock = self._lock, None
        if lock is not None:
            os.close(lock)


def seen_object(obj: Snapshot | ForgetRecord) -> SeenObject:
    """What the record keeps of an object it saw."""
    kind = "snapshot" if isinstance(obj, Snapshot) else "forget"
    return SeenObject(obj.seq, obj.id, kind, obj.time, obj.hostname)
