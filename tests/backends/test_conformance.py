"""The backend contract (coffer.backends.base), checked against every backend in conftest."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest

from coffer.backends.base import (
    AppendOnlyError,
    Backend,
    Capabilities,
    ObjectExists,
    ObjectNotFound,
    ObjectType,
    ShortRead,
    TransientError,
)

T = TypeVar("T")

CONTENT_TYPES = [t for t in ObjectType if t is not ObjectType.CONFIG]


def oid(seed: str) -> str:
    return hashlib.sha256(seed.encode() + os.urandom(8)).hexdigest()


def name_for(kind: ObjectType, seed: str = "x") -> str:
    return "config" if kind is ObjectType.CONFIG else oid(seed)


def test_capabilities_and_location(backend: Backend) -> None:
    assert isinstance(backend.capabilities, Capabilities)
    assert isinstance(backend.location, str) and backend.location
    for secret in ("SECRET", "secret-key", "password"):
        assert secret not in backend.location
        assert secret not in repr(backend)


@pytest.mark.parametrize("kind", list(ObjectType), ids=lambda k: k.value)
def test_missing_object(backend: Backend, kind: ObjectType) -> None:
    name = name_for(kind)
    with pytest.raises(ObjectNotFound):
        backend.load(kind, name)
    with pytest.raises(ObjectNotFound):
        backend.load(kind, name, 0, 1)
    with pytest.raises(ObjectNotFound):
        backend.stat(kind, name)
    assert backend.exists(kind, name) is False
    if backend.capabilities.append_only and kind is not ObjectType.LOCKS:
        with pytest.raises(AppendOnlyError):
            backend.remove(kind, name)
    else:
        with pytest.raises(ObjectNotFound):
            backend.remove(kind, name)
    assert list(backend.list(kind)) == []


@pytest.mark.parametrize("kind", list(ObjectType), ids=lambda k: k.value)
def test_round_trip_every_type(backend: Backend, kind: ObjectType) -> None:
    name = name_for(kind)
    data = os.urandom(1000) + kind.value.encode()
    backend.save(kind, name, data)
    assert backend.load(kind, name) == data
    assert backend.stat(kind, name) == len(data)
    assert backend.exists(kind, name)
    assert list(backend.list(kind)) == [(name, len(data))]


def test_empty_object(backend: Backend) -> None:
    name = oid("empty")
    backend.save(ObjectType.LOCKS, name, b"")
    assert backend.load(ObjectType.LOCKS, name) == b""
    assert backend.load(ObjectType.LOCKS, name, 0, 0) == b""
    assert backend.stat(ObjectType.LOCKS, name) == 0
    assert list(backend.list(ObjectType.LOCKS)) == [(name, 0)]
    with pytest.raises(ShortRead):
        backend.load(ObjectType.LOCKS, name, 0, 1)


def test_multi_mib_object(backend: Backend) -> None:
    data = os.urandom(9 * 1024 * 1024 + 123)  # above the S3 multipart threshold
    name = oid("big")
    backend.save(ObjectType.DATA, name, data)
    assert backend.stat(ObjectType.DATA, name) == len(data)
    assert hashlib.sha256(backend.load(ObjectType.DATA, name)).digest() == (
        hashlib.sha256(data).digest()
    )
    mid = len(data) // 2
    assert backend.load(ObjectType.DATA, name, mid, 4096) == data[mid : mid + 4096]
    assert backend.load(ObjectType.DATA, name, len(data) - 10) == data[-10:]


RANGES = [
    (0, None),
    (0, 100),
    (10, 20),
    (99, 1),
    (0, 0),
    (50, 0),
    (100, 0),
    (100, None),
    (37, None),
]


def test_ranged_reads(backend: Backend) -> None:
    data = bytes(range(100))
    name = oid("range")
    backend.save(ObjectType.DATA, name, data)
    for offset, length in RANGES:
        end = len(data) if length is None else offset + length
        got = backend.load(ObjectType.DATA, name, offset, length)
        assert got == data[offset:end], (offset, length)


@pytest.mark.parametrize("offset,length", [(0, 101), (99, 2), (100, 1), (101, None), (500, 10)])
def test_short_read_beyond_the_end(backend: Backend, offset: int, length: int | None) -> None:
    name = oid("short")
    backend.save(ObjectType.DATA, name, bytes(100))
    with pytest.raises(ShortRead):
        backend.load(ObjectType.DATA, name, offset, length)


def test_negative_range_is_a_caller_bug(backend: Backend) -> None:
    name = oid("neg")
    backend.save(ObjectType.DATA, name, bytes(10))
    with pytest.raises(ValueError):
        backend.load(ObjectType.DATA, name, -1, 2)
    with pytest.raises(ValueError):
        backend.load(ObjectType.DATA, name, 0, -2)


@pytest.mark.parametrize("kind", list(ObjectType), ids=lambda k: k.value)
def test_save_refuses_existing_name(backend: Backend, kind: ObjectType) -> None:
    name = name_for(kind)
    backend.save(kind, name, b"first")
    with pytest.raises(ObjectExists):
        backend.save(kind, name, b"second")
    assert backend.load(kind, name) == b"first"


def test_overwrite(backend: Backend) -> None:
    backend.save(ObjectType.CONFIG, "config", b"one")
    if backend.capabilities.append_only:
        with pytest.raises(AppendOnlyError):
            backend.save(ObjectType.CONFIG, "config", b"two!", overwrite=True)
        return
    backend.save(ObjectType.CONFIG, "config", b"two!", overwrite=True)
    assert backend.load(ObjectType.CONFIG, "config") == b"two!"
    assert backend.stat(ObjectType.CONFIG, "config") == 4
    fresh = oid("fresh")
    backend.save(ObjectType.INDEX, fresh, b"new", overwrite=True)  # overwrite may create
    assert backend.load(ObjectType.INDEX, fresh) == b"new"


def test_list_by_type_with_sizes(backend: Backend) -> None:
    expected: dict[ObjectType, set[tuple[str, int]]] = {}
    for i, kind in enumerate(CONTENT_TYPES):
        objs = {(oid(f"{kind.value}{j}"), 10 * i + j) for j in range(5)}
        for name, size in objs:
            backend.save(kind, name, os.urandom(size))
        expected[kind] = objs
    backend.save(ObjectType.CONFIG, "config", b"cfg")
    for kind, objs in expected.items():
        listed = list(backend.list(kind))
        assert len(listed) == len(objs)
        assert set(listed) == objs
    assert list(backend.list(ObjectType.CONFIG)) == [("config", 3)]


def test_data_objects_in_many_prefixes(backend: Backend) -> None:
    names = {f"{p:02x}" + oid(str(p))[2:] for p in (0, 1, 0xAB, 0xFF)}
    for n in names:
        backend.save(ObjectType.DATA, n, n.encode())
    assert set(backend.list(ObjectType.DATA)) == {(n, 64) for n in names}


def test_remove(backend: Backend) -> None:
    name = oid("rm")
    keep = oid("keep")
    backend.save(ObjectType.SNAPSHOTS, name, b"x")
    backend.save(ObjectType.SNAPSHOTS, keep, b"y")
    if backend.capabilities.append_only:
        with pytest.raises(AppendOnlyError, match="append-only"):
            backend.remove(ObjectType.SNAPSHOTS, name)
        assert backend.exists(ObjectType.SNAPSHOTS, name)
        return
    backend.remove(ObjectType.SNAPSHOTS, name)
    assert not backend.exists(ObjectType.SNAPSHOTS, name)
    with pytest.raises(ObjectNotFound):
        backend.load(ObjectType.SNAPSHOTS, name)
    with pytest.raises(ObjectNotFound):
        backend.remove(ObjectType.SNAPSHOTS, name)
    assert list(backend.list(ObjectType.SNAPSHOTS)) == [(keep, 1)]
    backend.save(ObjectType.SNAPSHOTS, name, b"again")  # a removed name can be reused
    assert backend.load(ObjectType.SNAPSHOTS, name) == b"again"


BAD_NAMES = [
    "",
    "config",
    "../x",
    "../" + "a" * 61,
    "a" * 63,
    "a" * 65,
    "A" * 64,
    "g" * 64,
    "a" * 62 + "/b",
    "/" + "a" * 63,
    "a" * 63 + "\n",
    "a" * 63 + "\x00",
    "..",
    ".",
    "data",
]


@pytest.mark.parametrize("kind", CONTENT_TYPES, ids=lambda k: k.value)
def test_invalid_names_rejected(backend: Backend, kind: ObjectType) -> None:
    for bad in BAD_NAMES:
        with pytest.raises(ValueError):
            backend.save(kind, bad, b"x")
        with pytest.raises(ValueError):
            backend.load(kind, bad)
        with pytest.raises(ValueError):
            backend.stat(kind, bad)
        with pytest.raises(ValueError):
            backend.remove(kind, bad)
    assert list(backend.list(kind)) == []


def test_invalid_config_names_rejected(backend: Backend) -> None:
    for bad in ["", "../config", "config/", "CONFIG", "a" * 64, "keys"]:
        with pytest.raises(ValueError):
            backend.save(ObjectType.CONFIG, bad, b"x")
        with pytest.raises(ValueError):
            backend.load(ObjectType.CONFIG, bad)
    assert list(backend.list(ObjectType.CONFIG)) == []


def patiently(fn: Callable[[], T]) -> T:
    """Call ``fn``, repeating on TransientError (which the contract allows at any time; the
    ``rclone serve s3`` test server answers 500 now and then to concurrent PUTs)."""
    for _ in range(9):
        try:
            return fn()
        except TransientError:
            time.sleep(0.05)
    return fn()


def test_concurrent_saves_from_threads(backend: Backend) -> None:
    items = {oid(str(i)): os.urandom(100 + i) for i in range(24)}

    def save(name: str) -> None:
        try:
            patiently(lambda: backend.save(ObjectType.DATA, name, items[name]))
        except ObjectExists:  # a transient failure after the server had stored it
            assert backend.load(ObjectType.DATA, name) == items[name]

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(save, items))
    assert set(backend.list(ObjectType.DATA)) == {(n, len(d)) for n, d in items.items()}
    with ThreadPoolExecutor(8) as pool:
        loaded = dict(pool.map(lambda n: (n, backend.load(ObjectType.DATA, n)), items))
    assert loaded == items


def test_concurrent_exclusive_create_has_one_winner(backend: Backend) -> None:
    name = oid("race")
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def attempt(i: int) -> None:
        barrier.wait()
        try:
            backend.save(ObjectType.LOCKS, name, f"writer {i}".encode())
            outcomes.append("won")
        except ObjectExists:
            outcomes.append("exists")
        except TransientError:  # rclone serve s3 answers 500 to racing PUTs of one key
            outcomes.append("transient")

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outcomes) == 6
    if backend.capabilities.atomic_exclusive_create or "transient" not in outcomes:
        # atomic backends, and non-atomic ones thanks to in-process serialisation (NameLocks)
        assert sorted(outcomes) == ["exists"] * 5 + ["won"]
        assert backend.load(ObjectType.LOCKS, name).startswith(b"writer ")


def test_locks_are_removable_even_when_append_only(backend: Backend) -> None:
    name = oid("lock")
    backend.save(ObjectType.LOCKS, name, b"lock")
    backend.remove(ObjectType.LOCKS, name)
    assert not backend.exists(ObjectType.LOCKS, name)


def test_close_is_idempotent(backend: Backend) -> None:
    backend.save(ObjectType.KEYS, oid("k"), b"k")
    backend.close()
    backend.close()
