"""The freshness check every opened repository goes through, and what follows from it.

Rules (the one choke point: :func:`coffer.unlock.open_repository` calls :func:`guard`, so the
CLI's commands, scheduled runs and the Python API all check, and check the same way):
- A format-v1 repository carries no counters: "freshness unknown (format v1)", never a failure
  — unless this device's record or the witness knows the repository as v2: then a v1 config is
  a config put back from before ``coffer migrate``, refused like a rollback.
- Otherwise the verdict (:mod:`coffer.freshness.check`) is drawn from storage's one listing of
  ``snapshots/`` (cached on the repository, so the command's own reading costs no second
  listing), this device's record (:mod:`coffer.freshness.record`) and, when a witness is
  configured, its rows. A refusal is :class:`~coffer.errors.FreshnessError` (exit 20) unless
  ``accept_rollback``: then an owner's forget record lists the missing objects as removed (when
  the repository can be written), so every device and the witness agree afterwards, the device
  record accepts the loss, and what was accepted is reported.
- On success the record moves forward to what storage shows, and this device's
  :class:`~coffer.freshness.clock.DeviceClock` is installed on the repository: objects it
  writes carry its writer ID and the next counter, committed after the object is stored and
  then reported to the witness.
- A witness that fails never blocks access: a failed read is a notice (a device with no record
  is told plainly that freshness could not be verified), a failed update leaves
  ``witness_pending`` in the record and is retried by the next command.
- No witness and no record: "same-device protection only" is said once (the record then
  exists).
- A refusal is decided on a second, fresh listing: a listing taken while another device's
  ``forget`` runs may have missed both its new forget record and what it removed.
"""

from __future__ import annotations

import socket
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from coffer.backends.base import BackendError
from coffer.engine.repository import Manifests, Repository
from coffer.engine.snapshot import ForgetRecord, RemovedSnapshot, Snapshot
from coffer.errors import CofferError, FreshnessError
from coffer.freshness.check import Evidence, Known, Present, Verdict, verdict
from coffer.freshness.clock import DeviceClock, seen_object
from coffer.freshness.record import DeviceRecord, RecordStore, SeenObject, now_text

UNKNOWN_ID = "0" * 64  # a removed entry whose object ID nobody knows (only its counter)

VERIFIED = "verified"  # checked against the witness (and the record, if any)
SAME_DEVICE = "same-device"  # checked against this device's record (and the listing) only
UNVERIFIED = "unverified"  # no record, and the witness could not be read
UNKNOWN = "unknown"  # format v1


class FreshnessWarning(UserWarning):
    """A freshness notice for Python API callers (the CLI prints them on stderr)."""


class Witness(Protocol):
    """A witness as :func:`guard` uses it (:mod:`coffer.freshness.witness_link` makes one)."""

    url: str

    def read(self) -> list[tuple[str, Known]]: ...

    def update(self, writer: str, seq: int, object_id: str) -> None: ...


@dataclass
class FreshnessOptions:
    """How :func:`guard` runs for one command."""

    accept_rollback: bool = False
    notify: Callable[[str], None] | None = None  # None: warnings.warn(FreshnessWarning)
    witness: Witness | None = None
    # say "same-device protection only" when this device meets a repository without a witness
    # for the first time (the CLI: on restore, the new-device case, and at init)
    say_protection: bool = True

    def tell(self, message: str) -> None:
        if self.notify is not None:
            self.notify(message)
        else:
            warnings.warn(message, FreshnessWarning, stacklevel=3)


@dataclass
class FreshnessReport:
    """What the check found; ``accepted`` lists the runs ``--accept-rollback`` accepted."""

    status: str
    verdict: Verdict | None = None
    accepted: list[str] = field(default_factory=list)


def guard(repo: Repository, options: FreshnessOptions | None = None) -> FreshnessReport:
    """Check ``repo`` against what is known (module rules); install this device's clock."""
    options = options or FreshnessOptions()
    if repo.format_version < 2:
        return _format_v1(repo, options)
    store = RecordStore(repo.repo_id)
    record = store.load()
    if store.damaged:
        options.tell(f"freshness: {store.damaged}")
    witness = options.witness
    if record is not None and record.witness and witness and record.witness != witness.url:
        options.tell(f"the freshness witness changed from {record.witness} to {witness.url}")
    if record is not None and record.witness_pending and witness is not None:
        _retry_pending(store, record, witness, options)
    known, status = _known(record, witness, options)
    if status == VERIFIED and witness is not None:
        status = _empty_witness(repo, record, witness, known, options)
    found = verdict(_evidence(repo.list_manifests(), known, record, witness))
    if not found.ok:  # a listing taken while another device's forget ran may miss both the
        # new forget record and what it removed: list once more before refusing
        found = verdict(_evidence(repo.list_manifests(fresh=True), known, record, witness))
    if not found.ok and not options.accept_rollback:
        raise FreshnessError(found.message())
    _install_clock(repo, store, witness, options)
    report = FreshnessReport(status, found)
    if not found.ok:
        report.accepted = _accept(repo, store, found, options)
    listing = repo.list_manifests()
    for oid, rid in sorted(listing.forgotten.items()):
        options.tell(
            f"warning: snapshot {oid[:8]} was removed by the owner's forget record {rid[:8]}, "
            "but storage shows it again (an old copy put back?); it is ignored"
        )
    _advance(store, listing, witness)
    if record is None and witness is None and options.say_protection:
        options.tell(
            "no witness is configured for this repository: same-device protection only "
            "(a rollback is detected on this device, not on a new one; "
            "`coffer witness set URL` adds a witness)"
        )
    return report


def _format_v1(repo: Repository, options: FreshnessOptions) -> FreshnessReport:
    """A v1 config: freshness unknown — unless this repository is known to be v2 already.

    Device records and witness rows exist only for v2 repositories, so either one means the
    provider put back a config from before ``coffer migrate`` (a downgrade that would switch
    every check off): refused like any other rollback.
    """
    record = RecordStore(repo.repo_id).load()
    evidence = ""
    if record is not None:
        evidence = f"this device has seen it as format v2 since {record.created or 'earlier'}"
    elif options.witness is not None:
        try:
            if options.witness.read():
                evidence = f"the witness at {options.witness.url} holds its format-v2 counters"
        except CofferError:
            pass  # a witness that is down never blocks access; the notice below still stands
    if evidence and not options.accept_rollback:
        raise FreshnessError(
            "storage shows this repository as format v1, but "
            + evidence
            + ": an older copy of its config was put back (a rollback to before `coffer "
            "migrate`). The command was stopped. If you know why (you restored an old copy of "
            "the repository yourself), run it again with --accept-rollback"
        )
    if evidence:
        options.tell(f"accepted a format-v1 config (--accept-rollback) although {evidence}")
    options.tell(
        "freshness unknown (format v1): its snapshots carry no writer counters, so a "
        "rollback cannot be detected; `coffer migrate` upgrades the repository"
    )
    return FreshnessReport(UNKNOWN)


def _known(
    record: DeviceRecord | None, witness: Witness | None, options: FreshnessOptions
) -> tuple[list[tuple[str, Known]], str]:
    known: list[tuple[str, Known]] = []
    if record is not None:
        for w, s in record.seen.items():
            known.append((w, Known(s.seq, "device", s.id, s.kind, s.time, s.hostname, s.since)))
        if record.own_seq:
            known.append((record.writer, Known(record.own_seq, "device")))
    if witness is None:
        return known, SAME_DEVICE
    try:
        known.extend(witness.read())
    except CofferError as exc:  # a witness that is down never blocks access
        if record is None:
            options.tell(
                f"freshness could not be verified: the witness at {witness.url} could not be "
                f"read ({exc}); this device has no record of the repository, so an older copy "
                "served by the storage provider would not be noticed"
            )
            return known, UNVERIFIED
        options.tell(
            f"warning: the witness at {witness.url} could not be read ({exc}); "
            "checked against this device's record only"
        )
        return known, SAME_DEVICE
    return known, VERIFIED


def _empty_witness(
    repo: Repository,
    record: DeviceRecord | None,
    witness: Witness,
    known: list[tuple[str, Known]],
    options: FreshnessOptions,
) -> str:
    """A witness that answers with no rows while storage shows counters has lost or withheld
    this repository's record: that is not a verification (review Q4)."""
    if any(k.source == "witness" for _w, k in known):
        return VERIFIED
    listing = repo.list_manifests()
    if not any(s.writer for s in listing.snapshots.values()) and not listing.forgets:
        return VERIFIED  # nothing to witness yet: a new repository
    if record is None:
        options.tell(
            f"freshness could not be verified: the witness at {witness.url} has no record of "
            "this repository, and this device has none either, so an older copy served by the "
            "storage provider would not be noticed"
        )
        return UNVERIFIED
    if record.own_seq and not record.witness_pending and record.witness == witness.url:
        options.tell(
            f"warning: the witness at {witness.url} has no record of this repository although "
            "this device reported to it (lost or withheld by its operator); checked against "
            "this device's record only"
        )
    return SAME_DEVICE


def _evidence(
    listing: Manifests,
    known: list[tuple[str, Known]],
    record: DeviceRecord | None,
    witness: Witness | None,
) -> Evidence:
    present = [
        Present(s.id, s.writer, s.seq, dict(s.seen), (), "snapshot", s.time, s.hostname)
        for s in listing.snapshots.values()
        if s.writer
    ]
    present += [
        Present(
            r.id,
            r.writer,
            r.seq,
            dict(r.seen),
            tuple((g.writer, g.seq) for g in r.removed),
            "forget",
            r.time,
            r.hostname,
        )
        for r in listing.forgets.values()
    ]
    digest = getattr(witness, "digest", None) if witness is not None else None
    return Evidence(
        tuple(present),
        tuple(known),
        record.accepted if record is not None else {},
        len(listing.damaged),
        digest,
        frozenset(listing.damaged),
    )


def _install_clock(
    repo: Repository, store: RecordStore, witness: Witness | None, options: FreshnessOptions
) -> None:
    with store.update() as record:
        if witness is not None:
            record.witness = witness.url
        writer, own = record.writer, record.own_seq

    def after_save(obj: Snapshot | ForgetRecord) -> None:
        if witness is not None and obj.writer == writer:
            _push(store, witness, obj.writer, obj.seq, obj.id, options)

    repo.clock = DeviceClock(
        store, writer, own, lambda: repo.list_manifests().newest_seqs(), after_save
    )


def _push(
    store: RecordStore,
    witness: Witness,
    writer: str,
    seq: int,
    object_id: str,
    options: FreshnessOptions,
) -> bool:
    """Report this writer's newest object to the witness; on failure leave it pending."""
    try:
        witness.update(writer, seq, object_id)
    except CofferError as exc:
        options.tell(
            f"warning: the witness at {witness.url} could not be updated ({exc}); the "
            "backup is stored, and the next command will report it to the witness again"
        )
        return False
    with store.update() as record:
        if record.own_seq <= seq:
            record.witness_pending = False
    return True


def _retry_pending(
    store: RecordStore, record: DeviceRecord, witness: Witness, options: FreshnessOptions
) -> None:
    own = record.seen.get(record.writer)
    if own is None or not own.id or own.seq != record.own_seq:
        return
    _push(store, witness, record.writer, own.seq, own.id, options)


def _accept(
    repo: Repository, store: RecordStore, found: Verdict, options: FreshnessOptions
) -> list[str]:
    """``--accept-rollback``: record the loss for every device, then for this one."""
    removed = []
    for m in found.missing:
        for seq in range(m.first, m.last + 1):
            known_id = m.known.id if m.known is not None and m.known.seq == seq else ""
            removed.append(RemovedSnapshot(known_id or UNKNOWN_ID, m.writer, seq, ""))
    written = ""
    if removed and repo.format_version >= 2:
        rec = ForgetRecord(now_text(), socket.gethostname(), "", 0, removed)
        try:
            written = repo.save_forget_record(rec)
        except (BackendError, CofferError) as exc:
            options.tell(f"could not write a forget record ({exc}); only this device accepts it")
    with store.update() as record:
        for m in found.missing:
            record.accept(m.writer, m.first, m.last)
    lines = [m.describe() for m in found.missing] + list(found.conflicts)
    where = (
        f"forget record {written[:8]} lists them as removed, so every device and the witness agree"
        if written
        else "this device's record accepts them"
    )
    options.tell(f"accepted what storage shows (--accept-rollback): {'; '.join(lines)}; {where}")
    return lines


def _advance(store: RecordStore, listing: Manifests, witness: Witness | None) -> None:
    """Move the record forward to the newest object of every writer storage shows."""
    newest: dict[str, SeenObject] = {}

    def offer(writer: str, obj: SeenObject) -> None:
        if writer and (writer not in newest or obj.seq > newest[writer].seq):
            newest[writer] = obj

    for snap in listing.snapshots.values():
        offer(snap.writer, seen_object(snap))
    for rec in listing.forgets.values():
        offer(rec.writer, seen_object(rec))
        for gone in rec.removed:
            offer(gone.writer, SeenObject(gone.seq, gone.id, "removed", gone.time))
    with store.update() as record:
        for writer, obj in newest.items():
            record.see(writer, obj)
        if witness is not None:
            record.witness = witness.url
