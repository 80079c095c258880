"""Blob → pack → upload pipeline with dedup, parallel sealing and periodic index writes.

Rules:
- A blob already in the index, or already queued in this run, is never stored again.
- Compression and sealing run in a small thread pool (zstd, ChaCha20-Poly1305 and SHA-256 release
  the GIL), in batches so per-task overhead stays small for 4 KiB database pages; results are
  appended to packs in submission order, so pack contents are deterministic for one input order.
- Packs are hashed and uploaded by another pool while the caller keeps chunking; at most
  ``max_inflight`` finished packs and ``max_sealing`` batches wait in memory, so memory stays
  bounded whatever the input size.
- An index object is written only after every pack it lists is stored (packs → index), every
  ``flush_every`` packs, so an interrupted run leaves most of its packs indexed; the rest are
  picked up by :meth:`Repository.adopt_unindexed_packs` on the next run.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from coffer.backends.base import ObjectExists, ObjectType
from coffer.engine import compress
from coffer.engine.pack import PackEntry, PackWriter, pack_id_of, seal_blob
from coffer.engine.repository import Repository

BATCH_BYTES = 1 << 20
BATCH_COUNT = 256

_Pending = tuple[bytes, bytes, bool]  # blob ID, plaintext, try compression
_Sealed = tuple[bytes, int, bytes, int]  # blob ID, compression, sealed payload, raw length


@dataclass
class UploadStats:
    blobs_new: int = 0
    blobs_known: int = 0
    bytes_new_raw: int = 0
    bytes_payload: int = 0
    bytes_stored: int = 0
    packs: int = 0
    index_objects: int = 0


def _seal_batch(data_key: bytes, repo_id: bytes, batch: list[_Pending]) -> list[_Sealed]:
    out = []
    for bid, data, try_compress in batch:
        method, payload = compress.maybe_compress(data, try_it=try_compress)
        out.append((bid, int(method), seal_blob(data_key, repo_id, bid, payload), len(data)))
    return out


class Uploader:
    """Collects new blobs into packs and stores them; call :meth:`finish` exactly once."""

    def __init__(
        self,
        repo: Repository,
        *,
        workers: int = 2,
        seal_workers: int = 2,
        max_inflight: int = 2,
        max_sealing: int = 2,
        flush_every: int = 8,
    ) -> None:
        self.repo = repo
        self.stats = UploadStats()
        self._writer = PackWriter(repo.keys.data, repo.keys.pack_header, repo.repo_id)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="coffer-upload")
        self._seal_pool = ThreadPoolExecutor(seal_workers, thread_name_prefix="coffer-seal")
        self._slots = threading.BoundedSemaphore(max_inflight)
        self._futures: list[Future[None]] = []
        self._sealing: deque[Future[list[_Sealed]]] = deque()
        self._max_sealing = max_sealing
        self._batch: list[_Pending] = []
        self._batch_bytes = 0
        self._queued: set[bytes] = set()
        self._lock = threading.Lock()
        self._done: list[tuple[str, list[PackEntry]]] = []
        self._flush_every = flush_every
        self.extra_packs: list[tuple[str, list[PackEntry]]] = []

    def has(self, blob_id: bytes) -> bool:
        return blob_id in self.repo.index or blob_id in self._queued

    def add(self, blob_id: bytes, data: bytes | memoryview, *, try_compress: bool) -> bool:
        """Store ``data`` under ``blob_id`` unless known; return True when it was new."""
        if self.has(blob_id):
            self.stats.blobs_known += 1
            return False
        self._queued.add(blob_id)
        self.stats.blobs_new += 1
        self.stats.bytes_new_raw += len(data)
        self._batch.append((blob_id, bytes(data), try_compress))
        self._batch_bytes += len(data)
        if self._batch_bytes >= BATCH_BYTES or len(self._batch) >= BATCH_COUNT:
            self._submit_batch()
        return True

    def _submit_batch(self) -> None:
        if not self._batch:
            return
        keys = self.repo.keys
        fut = self._seal_pool.submit(_seal_batch, keys.data, self.repo.repo_id, self._batch)
        self._sealing.append(fut)
        self._batch, self._batch_bytes = [], 0
        while len(self._sealing) > self._max_sealing:
            self._drain_one()

    def _drain_one(self) -> None:
        for bid, method, sealed, raw_len in self._sealing.popleft().result():
            self._writer.add_sealed(bid, method, sealed, raw_len)
            self.stats.bytes_payload += len(sealed)
            if self._writer.full(self.repo.params.pack_size):
                self._ship()

    def settle(self) -> None:
        """Seal everything queued so far (the statistics are then exact up to this point)."""
        self._submit_batch()
        while self._sealing:
            self._drain_one()

    def _ship(self) -> None:
        if not len(self._writer):
            return
        self._check_failures()
        self._slots.acquire()  # before joining the pack: a finished pack never waits in memory
        data, entries = self._writer.finish_unhashed()
        self._futures.append(self._pool.submit(self._upload, data, entries))

    def _upload(self, data: bytes, entries: list[PackEntry]) -> None:
        try:
            pack_id = pack_id_of(data)
            # same ID, same bytes: an earlier interrupted run stored it already
            with contextlib.suppress(ObjectExists):
                self.repo.backend.save(ObjectType.DATA, pack_id, data)
            with self._lock:
                self.stats.packs += 1
                self.stats.bytes_stored += len(data)
                self._done.append((pack_id, entries))
        finally:
            self._slots.release()

    def _check_failures(self) -> None:
        pending = []
        for fut in self._futures:
            if fut.done():
                fut.result()  # re-raises an upload failure in the caller's thread
            else:
                pending.append(fut)
        self._futures = pending
        with self._lock:
            ready = len(self._done) >= self._flush_every
        if ready:
            self._flush_index()

    def _flush_index(self) -> None:
        with self._lock:
            done, self._done = self._done, []
        done += self.extra_packs
        self.extra_packs = []
        if not done:
            return
        self.repo.save_index(done)
        for pack_id, entries in done:
            self.repo.index.add_pack(pack_id, entries)
            # indexed now: ``has`` finds them there, so the queued set stays as small as the
            # packs between two index writes (memory flat in the number of blobs)
            self._queued.difference_update(e.blob_id for e in entries)
        self.stats.index_objects += 1

    def finish(self) -> None:
        """Seal and upload what is left, wait for all uploads, then write the index."""
        try:
            self.settle()
            self._ship()
            for fut in self._futures:
                fut.result()
            self._futures = []
            self._flush_index()
        finally:
            self._shutdown()

    def abort(self) -> None:
        self._shutdown()

    def _shutdown(self) -> None:
        self._seal_pool.shutdown(wait=True, cancel_futures=True)
        self._pool.shutdown(wait=True, cancel_futures=True)
