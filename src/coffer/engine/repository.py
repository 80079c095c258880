"""A repository: sealed, immutable objects over one backend, opened with a key slot.

Config byte layout::

    config = magic:"CFRC" version:u8 (1 or 2) repo_id:32 sealed_params
    sealed_params = seal(config key, JSON params,
                         AD = object_ad("config", "config", repo_id) ‖ header)

Rules:
- Nothing is trusted before it is authenticated: the repository ID in the plaintext header only
  selects which key slot to try; once M is known, the sealed parameters authenticate the header.
- Every object is sealed with its type and repository ID as associated data (blobs also with
  their own ID), so an object moved to another type or copied between repositories fails.
- Every object but ``config`` is named by the SHA-256 of its stored bytes (packs, key slots,
  index, snapshot and lock objects), so a renamed or swapped object is caught by its name.
- Write order is packs → index → snapshot (enforced by :mod:`coffer.ops.backup`).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import struct
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from typing import Protocol, TypeVar

import zstandard

from coffer.backends.base import Backend, BackendError, ObjectNotFound, ObjectType, TransientError
from coffer.crypto.aead import object_ad, open_sealed, seal
from coffer.crypto.blobid import blob_id as keyed_blob_id
from coffer.crypto.kdf import KeyRing, new_master_key
from coffer.crypto.slots import SlotInfo, SlotKind, make_slot, open_slot, read_slot_info
from coffer.engine import compress, limits
from coffer.engine.chunker import ChunkerParams
from coffer.engine.errors import RepositoryExists, SnapshotNotFound
from coffer.engine.index import Index, Location, decode_index, encode_index
from coffer.engine.manifest import decode_manifest, encode_forget, encode_snapshot
from coffer.engine.pack import (
    ENTRY_LEN,
    TRAILER_LEN,
    PackEntry,
    blob_ad,
    header_length_from_trailer,
    open_header,
)
from coffer.engine.snapshot import ForgetRecord, Node, Snapshot
from coffer.engine.tree import MAX_TREE_BYTES, decode_tree
from coffer.errors import IntegrityError, RepositoryError, WrongKey

CONFIG_MAGIC = b"CFRC"
# index object ID → (IDs it supersedes, [(pack ID, entries)])
DecodedIndex = dict[str, tuple[list[str], list[tuple[str, list[PackEntry]]]]]
FORMAT_VERSION = 2  # what init writes
READABLE_VERSIONS = (1, 2)
_HEADER = struct.Struct("<4sB32s")
T = TypeVar("T")


class WriterClock(Protocol):
    """Who is writing, and the next value of its counter (format v2 freshness fields).

    The default, :class:`EphemeralClock`, is a fresh writer per opened repository; a device
    that remembers its writer ID and counter (coffer.freshness) installs its own.
    """

    writer: str

    def next_seq(self) -> int: ...

    def saved(self, obj: Snapshot | ForgetRecord) -> None:
        """``obj`` (stamped with :meth:`next_seq`'s value) is now stored: commit the counter.

        Called only after the object was written, so a failed upload never uses up a value.
        """

    def abandon(self) -> None:
        """The object stamped with :meth:`next_seq`'s value was not stored."""


class EphemeralClock:
    """A writer ID of its own and a counter from 1, forgotten when the process ends."""

    def __init__(self) -> None:
        self.writer = secrets.token_hex(16)
        self._seq = 0

    def next_seq(self) -> int:
        return self._seq + 1

    def saved(self, obj: Snapshot | ForgetRecord) -> None:
        if obj.writer == self.writer:
            self._seq = max(self._seq, obj.seq)

    def abandon(self) -> None:
        return None


@dataclass
class Manifests:
    """Everything in ``snapshots/``: readable snapshots, forget records, and damaged objects."""

    snapshots: dict[str, Snapshot] = field(default_factory=dict)
    forgets: dict[str, ForgetRecord] = field(default_factory=dict)
    damaged: dict[str, str] = field(default_factory=dict)  # object ID → reason
    # snapshot objects an owner's forget record lists as removed, yet still (or again) in
    # storage: not snapshots any more (object ID → the forget record's ID)
    forgotten: dict[str, str] = field(default_factory=dict)

    def newest_seqs(self) -> dict[str, int]:
        """Per writer, the highest counter any object here shows (forgotten snapshots too)."""
        out: dict[str, int] = {}

        def see(writer: str, seq: int) -> None:
            if writer and seq > out.get(writer, 0):
                out[writer] = seq

        for snap in self.snapshots.values():
            see(snap.writer, snap.seq)
        for rec in self.forgets.values():
            see(rec.writer, rec.seq)
            for gone in rec.removed:
                see(gone.writer, gone.seq)
        return out


def _drop_forgotten(listing: Manifests) -> None:
    """Move snapshots a present forget record removed out of ``listing.snapshots``.

    The owner's forget is authenticated; an object it removed that storage shows again (a
    provider putting back a copy, or a forget interrupted between its record and its deletes)
    must not come back as a snapshot — nor as ``latest``.
    """
    by_id: dict[str, str] = {}
    for rid, rec in listing.forgets.items():
        for gone in rec.removed:
            # an owner's forget names each snapshot with its time; an entry without one is a
            # loss accepted with --accept-rollback (never seen here), and a genuine object
            # that storage serves again must not stay hidden
            if gone.time:
                by_id[gone.id] = rid
    if not by_id:
        return
    for oid in list(listing.snapshots):
        record = by_id.get(oid)
        if record is not None:
            del listing.snapshots[oid]
            listing.forgotten[oid] = record


@dataclass(frozen=True)
class RepoParams:
    """Parameters fixed at ``init`` and stored (authenticated) in the config."""

    chunker: ChunkerParams = field(default_factory=ChunkerParams)
    pack_size: int = 16 * 1024 * 1024
    db_mode: str = "logical"
    # the freshness witness (coffer.freshness.witness_link): "" the default, a URL, or "none";
    # stored only when set, so configs without one keep their bytes
    witness: str = ""

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "chunker": asdict(self.chunker),
            "pack_size": self.pack_size,
            "db_mode": self.db_mode,
        }
        if self.witness:
            out["witness"] = self.witness
        return out

    @classmethod
    def from_json(cls, d: dict[str, object]) -> RepoParams:
        ch = d.get("chunker", {})
        assert isinstance(ch, dict)
        witness = d.get("witness", "")
        return cls(
            ChunkerParams(**ch),
            int(str(d["pack_size"])),
            str(d.get("db_mode", "pages")),
            witness if isinstance(witness, str) else "",
        )


def read_config_header(backend: Backend) -> tuple[bytes, bytes]:
    """Return ``(header, sealed_params)``; RepositoryError if there is no usable config."""
    try:
        raw = limits.load_bounded(backend, ObjectType.CONFIG, "config")
    except ObjectNotFound:
        raise RepositoryError(f"no Coffer repository at {backend.location}") from None
    if len(raw) < _HEADER.size or raw[:4] != CONFIG_MAGIC:
        raise RepositoryError(f"{backend.location} is not a Coffer repository")
    if raw[4] not in READABLE_VERSIONS:
        raise RepositoryError(f"unsupported repository format version {raw[4]}")
    return raw[: _HEADER.size], raw[_HEADER.size :]


def list_slots(backend: Backend) -> list[SlotInfo]:
    """Public metadata of every key slot, readable without a key."""
    out = []
    for name, size in backend.list(ObjectType.KEYS):
        try:
            out.append(
                read_slot_info(name, limits.load_bounded(backend, ObjectType.KEYS, name, size))
            )
        except TransientError:
            raise
        except (IntegrityError, RepositoryError, BackendError):
            continue  # damaged, not a regular file, or a slot kind/version this Coffer lacks
    return sorted(out, key=lambda s: (s.created, s.slot_id))


class Repository:
    """An opened repository: keys, parameters, index and object access."""

    def __init__(
        self,
        backend: Backend,
        repo_id: bytes,
        master: bytes,
        params: RepoParams,
        format_version: int = FORMAT_VERSION,
    ) -> None:
        self.backend = backend
        self.repo_id = repo_id
        self._master = master
        self.keys = KeyRing.derive(master, repo_id)
        self.params = params
        self.format_version = format_version
        self.index = Index()
        self.index_ids: set[str] = set()
        self.index_loaded = False
        self.clock: WriterClock = EphemeralClock()
        self._manifest_plain: dict[str, bytes] = {}  # object ID → opened plaintext (small in v2)
        self._listing: Manifests | None = None  # the one listing of snapshots/ (list_manifests)

    def __repr__(self) -> str:
        return f"Repository({self.backend.location!r}, id={self.repo_id.hex()[:8]})"

    # -- creation and opening -------------------------------------------------------------
    @classmethod
    def init(cls, backend: Backend, params: RepoParams = RepoParams()) -> Repository:
        """Create config for a new repository; the caller adds at least one key slot."""
        if backend.exists(ObjectType.CONFIG, "config"):
            raise RepositoryExists(f"a repository already exists at {backend.location}")
        repo = cls(backend, os.urandom(32), new_master_key(), params)
        repo._write_config(FORMAT_VERSION)
        return repo

    def _write_config(self, version: int, *, overwrite: bool = False) -> None:
        header = _HEADER.pack(CONFIG_MAGIC, version, self.repo_id)
        body = json.dumps({"version": version, **self.params.to_json()}).encode()
        sealed = seal(self.keys.config, body, _config_ad(self.repo_id, header))
        self.backend.save(ObjectType.CONFIG, "config", header + sealed, overwrite=overwrite)

    def upgrade_format(self) -> bool:
        """Rewrite a v1 config as v2 (same ID, keys and parameters); False if already v2.

        Nothing else is rewritten: v1 snapshots stay readable. Older Coffer versions refuse the
        repository afterwards, which is the point of the version number.
        """
        if self.format_version >= FORMAT_VERSION:
            return False
        self._write_config(FORMAT_VERSION, overwrite=True)  # one atomic replace
        self.format_version = FORMAT_VERSION
        return True

    def set_witness(self, witness: str) -> None:
        """Store the freshness witness setting (a URL, "none", or "" for the default) in the
        sealed config: one atomic replace, as ``upgrade_format`` does."""
        self.params = replace(self.params, witness=witness)
        self._write_config(self.format_version, overwrite=True)

    def derive(self, derivation: Callable[[bytes, bytes], T]) -> T:
        """``derivation(M, repository ID)``: keys of another subsystem (the freshness witness's)
        come from M like every subkey, without M leaving this object as an attribute."""
        return derivation(self._master, self.repo_id)

    def require_writable(self) -> None:
        """Refuse to write format-v2 objects into a format-v1 repository."""
        if self.format_version < FORMAT_VERSION:
            raise RepositoryError(
                f"{self.backend.location} is a format v{self.format_version} repository; "
                "run `coffer migrate` to upgrade it to format v2 before writing to it"
            )

    @classmethod
    def open(cls, backend: Backend, kind: SlotKind, secret: bytes) -> Repository:
        """Open with a recovery or vault secret; WrongKey if no slot of ``kind`` accepts it.

        A slot is named by the SHA-256 of its bytes, so a damaged slot is told apart from a
        wrong key and reported as such.
        """
        header, sealed = read_config_header(backend)
        repo_id = header[5:]
        damaged = []
        for name, size in backend.list(ObjectType.KEYS):
            try:
                data = limits.load_bounded(backend, ObjectType.KEYS, name, size)
            except TransientError:
                raise
            except (IntegrityError, BackendError):  # too large, or not a regular file: no slot
                damaged.append(name)
                continue
            if not hmac.compare_digest(hashlib.sha256(data).hexdigest(), name):
                damaged.append(name)
                continue
            try:
                if read_slot_info(name, data).kind != kind:
                    continue
                master = open_slot(name, data, secret, repo_id)
            except (WrongKey, IntegrityError, RepositoryError):
                continue
            return cls._from_master(backend, header, sealed, master)
        if damaged:
            raise IntegrityError(
                f"no {kind.value} key slot opens; damaged key slot(s): "
                + ", ".join(f"keys/{d}" for d in damaged)
            )
        raise WrongKey(f"the {kind.value} key does not open any key slot of this repository")

    @classmethod
    def _from_master(
        cls, backend: Backend, header: bytes, sealed: bytes, master: bytes
    ) -> Repository:
        repo_id = header[5:]
        keys = KeyRing.derive(master, repo_id)
        try:
            body = json.loads(open_sealed(keys.config, sealed, _config_ad(repo_id, header)))
        except IntegrityError:
            raise IntegrityError("config: authentication failed (damaged or tampered)") from None
        if body.get("version") != header[4]:
            raise RepositoryError(f"unsupported repository format version {body.get('version')}")
        return cls(backend, repo_id, master, RepoParams.from_json(body), header[4])

    # -- key slots ------------------------------------------------------------------------
    def add_slot(self, kind: SlotKind, secret: bytes, meta: dict[str, str] | None = None) -> str:
        slot_id, data = make_slot(kind, secret, self._master, self.repo_id, meta)
        self.backend.save(ObjectType.KEYS, slot_id, data)
        return slot_id

    def slots(self) -> list[SlotInfo]:
        return list_slots(self.backend)

    def remove_slot(self, slot_id: str) -> None:
        self.backend.remove(ObjectType.KEYS, slot_id)

    # -- sealed objects -------------------------------------------------------------------
    def _key_for(self, kind: ObjectType) -> bytes:
        return {
            ObjectType.INDEX: self.keys.index,
            ObjectType.SNAPSHOTS: self.keys.snapshot,
            ObjectType.LOCKS: self.keys.lock,
        }[kind]

    def save_object(self, kind: ObjectType, plain: bytes) -> str:
        """Seal ``plain`` and store it under the SHA-256 of the sealed bytes; return that ID.

        Content-addressed names make every object verifiable by its name alone (and let
        restic's rest-server, which insists on it, store Coffer repositories); the AEAD binds
        the object to its type and repository.
        """
        sealed = seal(self._key_for(kind), plain, object_ad(kind.value, "", self.repo_id))
        oid = hashlib.sha256(sealed).hexdigest()
        limits.check_write(kind, oid, len(sealed))
        self.backend.save(kind, oid, sealed)
        return oid

    def load_object(self, kind: ObjectType, oid: str, size: int | None = None) -> bytes:
        """Read, verify by name and open one sealed object; ``size`` as the listing gave it.

        The size is checked against the type's cap before any byte is read
        (:mod:`coffer.engine.limits`).
        """
        sealed = limits.load_bounded(self.backend, kind, oid, size)
        if not hmac.compare_digest(hashlib.sha256(sealed).hexdigest(), oid):
            raise IntegrityError(f"{kind.value}/{oid}: damaged (content does not match its ID)")
        try:
            return open_sealed(self._key_for(kind), sealed, object_ad(kind.value, "", self.repo_id))
        except IntegrityError:
            raise IntegrityError(f"{kind.value}/{oid}: authentication failed") from None

    # -- index ----------------------------------------------------------------------------
    def load_index(self) -> list[str]:
        """Read every index object, skipping superseded ones, into :attr:`index`.

        A damaged index object is skipped and its ID returned; the packs it described are then
        re-read from their own headers, so a damaged index never makes data unreachable. Packs
        an index lists but storage lacks are left out, so a blob that also exists in another
        pack is read from there.
        """
        for _attempt in range(5):
            decoded, damaged, vanished = self.read_index_objects()
            if not vanished:
                break  # else a prune replaced index objects while we listed: list again
        self.index, self.index_ids = merge_index_objects(decoded)
        self.index_loaded = True
        present = dict(self.backend.list(ObjectType.DATA))
        self._drop_packs(self.index.packs - set(present))
        if damaged:
            self._adopt(skip=set(), listing=present)
        return list(damaged)

    def _drop_packs(self, gone: set[str]) -> None:
        """Forget packs in the in-memory index (a blob also stored elsewhere stays findable)."""
        if not gone & self.index.packs:
            return
        view = Index()
        for pack_id, entries in self.index.pack_entries():
            if pack_id not in gone:
                view.add_pack(pack_id, entries)
        self.index = view

    def read_index_objects(
        self,
    ) -> tuple[DecodedIndex, dict[str, str], bool]:
        """Decode every index object: ``(decoded, damaged ID → reason, some object vanished)``."""
        decoded: DecodedIndex = {}
        damaged: dict[str, str] = {}
        vanished = False
        for oid, size in self.backend.list(ObjectType.INDEX):
            try:
                plain = _decompress_index(self.load_object(ObjectType.INDEX, oid, size))
                decoded[oid] = decode_index(plain)
            except ObjectNotFound:
                vanished = True
            except TransientError:
                raise
            except (IntegrityError, BackendError, zstandard.ZstdError) as exc:
                damaged[oid] = str(exc)  # BackendError: e.g. not a regular file
        return decoded, damaged, vanished

    def adopt_unindexed_packs(self) -> list[tuple[str, list[PackEntry]]]:
        """Add packs that no index lists to the in-memory index, from their own headers.

        Such packs are left by an interrupted or concurrent backup, or described by a damaged
        index object. Headers are authenticated; a pack whose header fails is left alone for
        ``check`` to report. Returns the adopted packs so a backup can write them to its index.

        Called by writers (backup) only: packs a pending prune plan condemned, and packs an
        index lists but storage no longer has, are dropped from this in-memory view, so a backup
        never deduplicates against a pack that prune may delete or has deleted
        (docs/lifecycle.md). Readers (restore, check) keep seeing them.
        """
        condemned = self.condemned_packs()
        present = dict(self.backend.list(ObjectType.DATA))
        # packs an index lists but storage lacks (deleted under a backup that outlived prune's
        # grace period) are dropped too: their blobs get uploaded again and the repository heals
        self._drop_packs(condemned | (self.index.packs - set(present)))
        return self._adopt(skip=condemned, listing=present)

    def _adopt(
        self, skip: set[str], listing: dict[str, int] | None = None
    ) -> list[tuple[str, list[PackEntry]]]:
        known = self.index.packs | skip
        adopted = []
        if listing is None:
            listing = dict(self.backend.list(ObjectType.DATA))
        for pack_id, size in listing.items():
            if pack_id in known:
                continue
            try:
                entries = self.read_pack_header(pack_id, size)
            except (IntegrityError, BackendError):
                continue
            self.index.add_pack(pack_id, entries)
            adopted.append((pack_id, entries))
        return adopted

    def condemned_packs(self) -> set[str]:
        """Packs a pending prune plan will delete; they are never adopted into an index.

        A plan is a sealed object in ``locks/`` whose JSON has ``"kind": "prune-plan"`` (see
        :mod:`coffer.ops.prune`, which writes them, and docs/lifecycle.md for why this matters
        to a backup running concurrently with prune). Unreadable objects are skipped: a pack
        adopted by mistake is only kept longer, never lost.
        """
        out: set[str] = set()
        for oid, size in self.backend.list(ObjectType.LOCKS):
            try:
                doc = json.loads(self.load_object(ObjectType.LOCKS, oid, size))
            except (IntegrityError, BackendError, ValueError):
                continue
            if isinstance(doc, dict) and doc.get("kind") == "prune-plan":
                out.update(str(p) for p in doc.get("condemned", []))
        return out

    def save_index(
        self, packs: list[tuple[str, list[PackEntry]]], supersedes: tuple[str, ...] = ()
    ) -> str:
        """Store ``packs`` as index objects of at most :data:`limits.INDEX_PIECE_BYTES` each.

        Readers cap an index object's size (:mod:`coffer.engine.limits`), so a large index
        (prune's and repair's consolidation) is written in pieces. Only the last piece
        supersedes: until it exists the old objects stay live beside the new pieces (redundant
        but correct), and once it exists every piece is live. Returns the last piece's ID.
        """
        oid = ""
        pieces = split_index(packs)
        for n, piece in enumerate(pieces):
            sup = supersedes if n == len(pieces) - 1 else ()
            plain = zstandard.ZstdCompressor(level=3).compress(encode_index(piece, sup))
            oid = self.save_object(ObjectType.INDEX, plain)
            self.index_ids.add(oid)
        return oid

    # -- snapshots ------------------------------------------------------------------------
    def save_snapshot(self, snap: Snapshot) -> str:
        """Store ``snap``: its tree as blobs (packs, then index), then its object; return its ID.

        A snapshot without a writer gets this repository's :attr:`clock`'s writer and next
        counter; ``seen`` defaults to the newest counter of every writer in the listing.
        """
        self.require_writable()
        if not snap.tree_blobs:
            snap.tree_blobs, snap.tree_bytes = self._store_tree(snap.tree)
        with self._stamped(snap):
            snap.id = self.save_object(ObjectType.SNAPSHOTS, encode_snapshot(snap))
        snap.version = 2
        self._manifest_plain.pop(snap.id, None)
        self._saved(snap)
        return snap.id

    def save_forget_record(self, rec: ForgetRecord) -> str:
        """Store an owner's forget record (format v2); return its ID."""
        self.require_writable()
        with self._stamped(rec):
            rec.id = self.save_object(ObjectType.SNAPSHOTS, encode_forget(rec))
        self._saved(rec)
        return rec.id

    def _saved(self, obj: Snapshot | ForgetRecord) -> None:
        """Keep the cached listing current and let the clock commit the counter."""
        if self._listing is not None:
            if isinstance(obj, Snapshot):
                self._listing.snapshots[obj.id] = obj
            else:
                self._listing.forgets[obj.id] = obj
        self.clock.saved(obj)

    @contextlib.contextmanager
    def _stamped(self, obj: Snapshot | ForgetRecord) -> Iterator[None]:
        """Give ``obj`` this writer's next counter for the store in the block; a store that
        fails abandons it (the clock may hold a device lock from here to :meth:`_saved`)."""
        if obj.writer:
            yield
            return
        if not obj.seen:
            obj.seen = self.list_manifests().newest_seqs()
        obj.writer, obj.seq = self.clock.writer, self.clock.next_seq()
        try:
            yield
        except BaseException:
            self.clock.abandon()
            raise

    def _store_tree(self, nodes: list[Node]) -> tuple[list[bytes], int]:
        from coffer.engine.chunker import DB_STREAM_PARAMS, Chunker
        from coffer.engine.tree import encode_tree
        from coffer.engine.uploader import Uploader

        data = encode_tree(nodes)
        if len(data) > MAX_TREE_BYTES:
            raise RepositoryError(f"the snapshot's tree is larger than {MAX_TREE_BYTES} bytes")
        self.ensure_index()
        uploader = Uploader(self, workers=1, seal_workers=1, max_inflight=1)
        ids = []
        try:
            for piece in Chunker(self.keys.chunker, DB_STREAM_PARAMS).cut(data):
                bid = self.blob_id(piece)
                uploader.add(bid, piece, try_compress=True)
                ids.append(bid)
            uploader.finish()
        except BaseException:
            uploader.abort()
            raise
        return ids, len(data)

    def _load_tree(self, snap: Snapshot) -> list[Node]:
        if snap.tree_bytes > MAX_TREE_BYTES:
            raise IntegrityError(f"snapshot {snap.id[:8]}: tree size {snap.tree_bytes} too large")
        self.ensure_index()
        total = 0
        for bid in snap.tree_blobs:
            loc = self.index.get(bid)
            if loc is None:
                raise IntegrityError(
                    f"snapshot {snap.id[:8]}: tree blob {bid.hex()[:16]} is not in the index"
                )
            total += loc.raw_length
        if total != snap.tree_bytes:
            raise IntegrityError(f"snapshot {snap.id[:8]}: its tree blobs do not add up")
        data = b"".join(self.read_blob(bid) for bid in snap.tree_blobs)
        try:
            return decode_tree(data)
        except IntegrityError as exc:
            raise IntegrityError(f"snapshot {snap.id[:8]}: {exc}") from None

    def ensure_index(self) -> None:
        """Load the index unless this object already did (trees are read through it)."""
        if not self.index_loaded:
            self.load_index()

    def load_manifest(self, oid: str, size: int | None = None) -> Snapshot | ForgetRecord:
        """Decode one ``snapshots/`` object (a snapshot or a forget record)."""
        plain = self._manifest_plain.get(oid)
        if plain is None:
            plain = self.load_object(ObjectType.SNAPSHOTS, oid, size)
            if self.format_version >= 2:
                self._manifest_plain[oid] = plain
        obj = decode_manifest(plain, oid)
        if isinstance(obj, Snapshot) and obj.version >= 2:
            obj._loader = self._load_tree
        return obj

    def load_snapshot(self, oid: str) -> Snapshot:
        obj = self.load_manifest(oid)
        if not isinstance(obj, Snapshot):
            raise SnapshotNotFound(f"{oid[:8]} is a forget record, not a snapshot")
        return obj

    def list_manifests(self, *, fresh: bool = False) -> Manifests:
        """Every object in ``snapshots/``; damaged ones are reported, not raised.

        Storage is listed once per opened repository (every command's freshness check and its
        own reading share that listing); objects this process saves or removes are applied to
        it. ``fresh=True`` (and :meth:`drop_listing`, which an exclusive lock calls) lists
        again — what prune and forget need, since other devices may have written meanwhile.
        The result is a copy: callers may change its dictionaries, not the objects in them.
        """
        if self._listing is None or fresh:
            self._listing = self._read_listing()
        cached = self._listing
        out = Manifests(dict(cached.snapshots), dict(cached.forgets), dict(cached.damaged))
        _drop_forgotten(out)
        return out

    def drop_listing(self) -> None:
        """Forget the cached listing: the next :meth:`list_manifests` lists storage again."""
        self._listing = None

    def _read_listing(self) -> Manifests:
        out = Manifests()
        for oid, size in self.backend.list(ObjectType.SNAPSHOTS):
            try:
                obj = self.load_manifest(oid, size)
            except ObjectNotFound:
                continue  # removed (forget) while we listed
            except (IntegrityError, BackendError) as exc:  # BackendError: e.g. not a regular file
                out.damaged[oid] = str(exc)
                continue
            if isinstance(obj, Snapshot):
                out.snapshots[oid] = obj
            else:
                out.forgets[oid] = obj
        return out

    def snapshot_ids(self) -> list[str]:
        """IDs of the snapshot objects (damaged ones included; forget records left out)."""
        if self.format_version < 2:
            return [name for name, _ in self.backend.list(ObjectType.SNAPSHOTS)]
        listing = self.list_manifests()
        return sorted([*listing.snapshots, *listing.damaged])

    def snapshots(self) -> Iterator[Snapshot]:
        for oid in self.snapshot_ids():
            yield self.load_snapshot(oid)

    def remove_snapshot(self, oid: str) -> None:
        """Delete one ``snapshots/`` object (a snapshot or a superseded forget record)."""
        try:
            self.backend.remove(ObjectType.SNAPSHOTS, oid)
        finally:
            self._manifest_plain.pop(oid, None)
            if self._listing is not None:
                self._listing.snapshots.pop(oid, None)
                self._listing.forgets.pop(oid, None)
                self._listing.damaged.pop(oid, None)

    # -- packs and blobs ------------------------------------------------------------------
    def read_pack_header(self, pack_id: str, size: int | None = None) -> list[PackEntry]:
        """Read and authenticate a pack's header from the pack's tail."""
        if size is None:
            size = self.backend.stat(ObjectType.DATA, pack_id)
        if size < TRAILER_LEN:
            self.backend.load(ObjectType.DATA, pack_id, 0, size)  # a FIFO: "not a regular file"
            raise IntegrityError(f"data/{pack_id}: too short to be a pack")
        tail_len = min(size, 64 * 1024)
        tail = self.backend.load(ObjectType.DATA, pack_id, size - tail_len, tail_len)
        hlen = header_length_from_trailer(tail[-TRAILER_LEN:])
        limits.check_header_length(pack_id, hlen, size)  # before reading that many bytes
        if hlen + TRAILER_LEN <= tail_len:
            sealed = tail[tail_len - TRAILER_LEN - hlen : tail_len - TRAILER_LEN]
        else:
            sealed = self.backend.load(ObjectType.DATA, pack_id, size - TRAILER_LEN - hlen, hlen)
        try:
            return open_header(self.keys.pack_header, self.repo_id, sealed, size)
        except IntegrityError as exc:
            raise IntegrityError(f"data/{pack_id}: {exc}") from None

    def open_blob(self, blob_id: bytes, loc: Location, sealed: bytes) -> bytes:
        """Authenticate, decompress and verify one sealed blob read from its pack."""
        try:
            payload = open_sealed(self.keys.data, sealed, blob_ad(blob_id, self.repo_id))
            plain = compress.decompress(loc.compression, payload, loc.raw_length)
        except (IntegrityError, ValueError):
            raise IntegrityError(
                f"data/{loc.pack_id}: blob {blob_id.hex()[:16]} failed authentication"
            ) from None
        if not hmac.compare_digest(keyed_blob_id(self.keys.chunk_id, plain), blob_id):
            raise IntegrityError(f"data/{loc.pack_id}: blob {blob_id.hex()[:16]} has a wrong ID")
        return plain

    def read_blob(self, blob_id: bytes) -> bytes:
        loc = self.index.get(blob_id)
        if loc is None:
            raise IntegrityError(f"blob {blob_id.hex()[:16]} is not in the index")
        return self.read_blob_at(blob_id, loc)

    def read_blob_at(self, blob_id: bytes, loc: Location) -> bytes:
        """Read one blob by its range (from the authenticated index or header) and open it."""
        sealed = self.backend.load(ObjectType.DATA, loc.pack_id, loc.offset, loc.length)
        return self.open_blob(blob_id, loc, sealed)

    def blob_id(self, data: bytes | memoryview) -> bytes:
        return keyed_blob_id(self.keys.chunk_id, data)


def _decompress_index(data: bytes) -> bytes:
    return zstandard.ZstdDecompressor().decompress(data, max_output_size=limits.INDEX_PLAIN_MAX)


def split_index(
    packs: list[tuple[str, list[PackEntry]]],
) -> list[list[tuple[str, list[PackEntry]]]]:
    """Group packs so each group's index plaintext stays under :data:`limits.INDEX_PIECE_BYTES`.

    A pack is never split (a group holds at least one; :data:`limits.MAX_PACK_ENTRIES` keeps one
    pack's entries under :data:`limits.INDEX_PLAIN_MAX`). Always at least one group, so an empty
    consolidation still writes the object that supersedes.
    """
    groups: list[list[tuple[str, list[PackEntry]]]] = [[]]
    used = 0
    for pack_id, entries in packs:
        cost = 36 + len(entries) * ENTRY_LEN
        if groups[-1] and used + cost > limits.INDEX_PIECE_BYTES:
            groups.append([])
            used = 0
        groups[-1].append((pack_id, entries))
        used += cost
    return groups


def merge_index_objects(
    decoded: DecodedIndex,
) -> tuple[Index, set[str]]:
    """Merge decoded index objects, ignoring superseded ones; return the index and live IDs."""
    superseded = {s for sup, _ in decoded.values() for s in sup}
    index, live = Index(), set()
    for oid, (_sup, packs) in decoded.items():
        if oid in superseded:
            continue
        live.add(oid)
        for pack_id, entries in packs:
            index.add_pack(pack_id, entries)
    return index, live


def _config_ad(repo_id: bytes, header: bytes) -> bytes:
    return object_ad("config", "config", repo_id) + header
