"""A repository: sealed, immutable objects over one backend, opened with a key slot.

Config byte layout::

    config = magic:"CFRC" version:u8(=1) repo_id:32 sealed_params
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

import hashlib
import hmac
import json
import os
import struct
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

import zstandard

from coffer.backends.base import Backend, BackendError, ObjectNotFound, ObjectType
from coffer.crypto.aead import object_ad, open_sealed, seal
from coffer.crypto.blobid import blob_id as keyed_blob_id
from coffer.crypto.kdf import KeyRing, new_master_key
from coffer.crypto.slots import SlotInfo, SlotKind, make_slot, open_slot, read_slot_info
from coffer.engine import compress
from coffer.engine.chunker import ChunkerParams
from coffer.engine.errors import RepositoryExists
from coffer.engine.index import Index, Location, decode_index, encode_index
from coffer.engine.pack import (
    TRAILER_LEN,
    PackEntry,
    blob_ad,
    header_length_from_trailer,
    open_header,
)
from coffer.engine.snapshot import Snapshot
from coffer.errors import IntegrityError, RepositoryError, WrongKey

CONFIG_MAGIC = b"CFRC"
# index object ID → (IDs it supersedes, [(pack ID, entries)])
DecodedIndex = dict[str, tuple[list[str], list[tuple[str, list[PackEntry]]]]]
FORMAT_VERSION = 1
_HEADER = struct.Struct("<4sB32s")


@dataclass(frozen=True)
class RepoParams:
    """Parameters fixed at ``init`` and stored (authenticated) in the config."""

    chunker: ChunkerParams = field(default_factory=ChunkerParams)
    pack_size: int = 16 * 1024 * 1024
    db_mode: str = "logical"

    def to_json(self) -> dict[str, object]:
        return {
            "chunker": asdict(self.chunker),
            "pack_size": self.pack_size,
            "db_mode": self.db_mode,
        }

    @classmethod
    def from_json(cls, d: dict[str, object]) -> RepoParams:
        ch = d.get("chunker", {})
        assert isinstance(ch, dict)
        return cls(ChunkerParams(**ch), int(str(d["pack_size"])), str(d.get("db_mode", "pages")))


def read_config_header(backend: Backend) -> tuple[bytes, bytes]:
    """Return ``(header, sealed_params)``; RepositoryError if there is no usable config."""
    try:
        raw = backend.load(ObjectType.CONFIG, "config")
    except ObjectNotFound:
        raise RepositoryError(f"no Coffer repository at {backend.location}") from None
    if len(raw) < _HEADER.size or raw[:4] != CONFIG_MAGIC:
        raise RepositoryError(f"{backend.location} is not a Coffer repository")
    if raw[4] != FORMAT_VERSION:
        raise RepositoryError(f"unsupported repository format version {raw[4]}")
    return raw[: _HEADER.size], raw[_HEADER.size :]


def list_slots(backend: Backend) -> list[SlotInfo]:
    """Public metadata of every key slot, readable without a key."""
    out = []
    for name, _size in backend.list(ObjectType.KEYS):
        try:
            out.append(read_slot_info(name, backend.load(ObjectType.KEYS, name)))
        except (IntegrityError, RepositoryError):
            continue  # damaged, or a slot kind/version this Coffer does not know
    return sorted(out, key=lambda s: (s.created, s.slot_id))


class Repository:
    """An opened repository: keys, parameters, index and object access."""

    def __init__(self, backend: Backend, repo_id: bytes, master: bytes, params: RepoParams) -> None:
        self.backend = backend
        self.repo_id = repo_id
        self._master = master
        self.keys = KeyRing.derive(master, repo_id)
        self.params = params
        self.index = Index()
        self.index_ids: set[str] = set()

    def __repr__(self) -> str:
        return f"Repository({self.backend.location!r}, id={self.repo_id.hex()[:8]})"

    # -- creation and opening -------------------------------------------------------------
    @classmethod
    def init(cls, backend: Backend, params: RepoParams = RepoParams()) -> Repository:
        """Create config for a new repository; the caller adds at least one key slot."""
        if backend.exists(ObjectType.CONFIG, "config"):
            raise RepositoryExists(f"a repository already exists at {backend.location}")
        repo = cls(backend, os.urandom(32), new_master_key(), params)
        header = _HEADER.pack(CONFIG_MAGIC, FORMAT_VERSION, repo.repo_id)
        body = json.dumps({"version": FORMAT_VERSION, **params.to_json()}).encode()
        sealed = seal(repo.keys.config, body, _config_ad(repo.repo_id, header))
        backend.save(ObjectType.CONFIG, "config", header + sealed)
        return repo

    @classmethod
    def open(cls, backend: Backend, kind: SlotKind, secret: bytes) -> Repository:
        """Open with a recovery or vault secret; WrongKey if no slot of ``kind`` accepts it.

        A slot is named by the SHA-256 of its bytes, so a damaged slot is told apart from a
        wrong key and reported as such.
        """
        header, sealed = read_config_header(backend)
        repo_id = header[5:]
        damaged = []
        for name, _size in backend.list(ObjectType.KEYS):
            data = backend.load(ObjectType.KEYS, name)
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
        if body.get("version") != FORMAT_VERSION:
            raise RepositoryError(f"unsupported repository format version {body.get('version')}")
        return cls(backend, repo_id, master, RepoParams.from_json(body))

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
        self.backend.save(kind, oid, sealed)
        return oid

    def load_object(self, kind: ObjectType, oid: str) -> bytes:
        sealed = self.backend.load(kind, oid)
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
        for oid, _ in self.backend.list(ObjectType.INDEX):
            try:
                plain = zstandard.ZstdDecompressor().decompress(
                    self.load_object(ObjectType.INDEX, oid), max_output_size=1 << 31
                )
                decoded[oid] = decode_index(plain)
            except ObjectNotFound:
                vanished = True
            except (IntegrityError, zstandard.ZstdError) as exc:
                damaged[oid] = str(exc)
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
        for oid, _ in self.backend.list(ObjectType.LOCKS):
            try:
                doc = json.loads(self.load_object(ObjectType.LOCKS, oid))
            except (IntegrityError, BackendError, ValueError):
                continue
            if isinstance(doc, dict) and doc.get("kind") == "prune-plan":
                out.update(str(p) for p in doc.get("condemned", []))
        return out

    def save_index(
        self, packs: list[tuple[str, list[PackEntry]]], supersedes: tuple[str, ...] = ()
    ) -> str:
        plain = zstandard.ZstdCompressor(level=3).compress(encode_index(packs, supersedes))
        oid = self.save_object(ObjectType.INDEX, plain)
        self.index_ids.add(oid)
        return oid

    # -- snapshots ------------------------------------------------------------------------
    def save_snapshot(self, snap: Snapshot) -> str:
        snap.id = self.save_object(ObjectType.SNAPSHOTS, snap.to_bytes())
        return snap.id

    def load_snapshot(self, oid: str) -> Snapshot:
        return Snapshot.from_bytes(self.load_object(ObjectType.SNAPSHOTS, oid), oid)

    def snapshot_ids(self) -> list[str]:
        return [name for name, _ in self.backend.list(ObjectType.SNAPSHOTS)]

    def snapshots(self) -> Iterator[Snapshot]:
        for oid in self.snapshot_ids():
            yield self.load_snapshot(oid)

    # -- packs and blobs ------------------------------------------------------------------
    def read_pack_header(self, pack_id: str, size: int | None = None) -> list[PackEntry]:
        """Read and authenticate a pack's header from the pack's tail."""
        if size is None:
            size = self.backend.stat(ObjectType.DATA, pack_id)
        if size < TRAILER_LEN:
            raise IntegrityError(f"data/{pack_id}: too short to be a pack")
        tail_len = min(size, 64 * 1024)
        tail = self.backend.load(ObjectType.DATA, pack_id, size - tail_len, tail_len)
        hlen = header_length_from_trailer(tail[-TRAILER_LEN:])
        if hlen + TRAILER_LEN > size:
            raise IntegrityError(f"data/{pack_id}: header length exceeds the pack")
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
        sealed = self.backend.load(ObjectType.DATA, loc.pack_id, loc.offset, loc.length)
        return self.open_blob(blob_id, loc, sealed)

    def blob_id(self, data: bytes | memoryview) -> bytes:
        return keyed_blob_id(self.keys.chunk_id, data)


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
