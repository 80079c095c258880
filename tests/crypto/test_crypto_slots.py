"""Key slots: M sealed under a KEK from a random secret, with public authenticated metadata."""

from __future__ import annotations

import hashlib
from datetime import datetime

import pytest

from coffer.crypto.kdf import new_master_key
from coffer.crypto.recovery import RecoveryKey
from coffer.crypto.slots import (
    MAGIC,
    SALT_LEN,
    SlotInfo,
    SlotKind,
    UnsupportedSlot,
    _build_slot,
    _encode_header,
    make_slot,
    open_slot,
    read_slot_info,
)
from coffer.errors import IntegrityError, RepositoryError, WrongKey

REPO = hashlib.sha256(b"repo").digest()
MASTER = bytes(range(32))
SECRET = bytes(range(0x40, 0x60))
META = {"vault": "https://vault.example/v1", "account": "alice", "note": "ключ 🔑"}


def rehash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("kind", list(SlotKind))
def test_round_trip_for_every_kind(kind: SlotKind) -> None:
    slot_id, data = make_slot(kind, SECRET, MASTER, REPO, META)
    assert slot_id == rehash(data) and len(slot_id) == 64
    info = read_slot_info(slot_id, data)
    assert info == SlotInfo(slot_id, kind, info.created, META)
    assert datetime.fromisoformat(info.created).utcoffset() is not None
    assert open_slot(slot_id, data, SECRET, REPO) == MASTER


def test_recovery_key_opens_its_slot() -> None:
    recovery, master = RecoveryKey.generate(), new_master_key()
    slot_id, data = make_slot(SlotKind.RECOVERY, recovery.secret, master, REPO)
    typed = RecoveryKey.parse(recovery.display().lower())
    assert open_slot(slot_id, data, typed.secret, REPO) == master
    assert read_slot_info(slot_id, data).meta == {}


def test_layout_starts_with_the_documented_header() -> None:
    salt = bytes(range(SALT_LEN))
    created = "2026-11-26T12:00:00+00:00"
    _, data = _build_slot(SlotKind.VAULT, SECRET, MASTER, REPO, {"b": "2", "a": "1"}, salt, created)
    header = MAGIC + b"\x01\x05vault" + salt + bytes([len(created)]) + created.encode()
    meta = b'{"a":"1","b":"2"}'
    assert data.startswith(header + len(meta).to_bytes(4, "big") + meta)
    assert len(data) == len(header) + 4 + len(meta) + 41 + 32
    assert data[len(header) + 4 + len(meta)] == 0x01  # sealed part: aead version byte


def test_each_slot_is_unique() -> None:
    ids = {make_slot(SlotKind.RECOVERY, SECRET, MASTER, REPO)[0] for _ in range(20)}
    assert len(ids) == 20


def test_wrong_secret_is_wrong_key() -> None:
    slot_id, data = make_slot(SlotKind.RECOVERY, SECRET, MASTER, REPO)
    with pytest.raises(WrongKey) as info:
        open_slot(slot_id, data, bytes(32), REPO)
    assert info.value.exit_code == 11
    assert SECRET.hex() not in str(info.value) and MASTER.hex() not in str(info.value)


def test_slot_of_another_repository_does_not_open() -> None:
    slot_id, data = make_slot(SlotKind.VAULT, SECRET, MASTER, REPO)
    with pytest.raises(WrongKey):
        open_slot(slot_id, data, SECRET, hashlib.sha256(b"other repo").digest())


def test_kind_is_bound_to_the_kek() -> None:
    """Relabelling a recovery slot as a vault slot (same salt, same sealed bytes) fails."""
    salt, created = b"s" * SALT_LEN, "2026-11-26T12:00:00+00:00"
    _, data = _build_slot(SlotKind.RECOVERY, SECRET, MASTER, REPO, {}, salt, created)
    sealed = data[-73:]
    forged = _encode_header(SlotKind.VAULT, salt, created, {}) + sealed
    with pytest.raises(WrongKey):
        open_slot(rehash(forged), forged, SECRET, REPO)


def test_any_flipped_bit_never_yields_the_key() -> None:
    """With the ID recomputed (an attacker can do that), every flip is refused by open_slot."""
    _, data = make_slot(SlotKind.VAULT, SECRET, MASTER, REPO, {"account": "alice"})
    for i in range(len(data) * 8):
        tampered = bytearray(data)
        tampered[i // 8] ^= 1 << (i % 8)
        with pytest.raises((IntegrityError, WrongKey, UnsupportedSlot)):
            open_slot(rehash(bytes(tampered)), bytes(tampered), SECRET, REPO)


def test_any_change_under_the_original_id_is_an_integrity_error() -> None:
    slot_id, data = make_slot(SlotKind.RECOVERY, SECRET, MASTER, REPO)
    for i in range(len(data)):
        tampered = bytearray(data)
        tampered[i] ^= 0x80
        with pytest.raises(IntegrityError):
            read_slot_info(slot_id, bytes(tampered))
        with pytest.raises(IntegrityError):
            open_slot(slot_id, bytes(tampered), SECRET, REPO)


def test_truncated_or_extended_slots_are_malformed() -> None:
    _, data = make_slot(SlotKind.PASSKEY, SECRET, MASTER, REPO, META)
    for n in [*range(0, len(data), 7), len(data) - 1]:
        with pytest.raises(IntegrityError):
            read_slot_info(rehash(data[:n]), data[:n])
    longer = data + b"\x00"
    with pytest.raises(IntegrityError):
        read_slot_info(rehash(longer), longer)


def test_metadata_is_authenticated() -> None:
    salt, created = b"s" * SALT_LEN, "2026-11-26T12:00:00+00:00"
    _, data = _build_slot(
        SlotKind.VAULT, SECRET, MASTER, REPO, {"vault": "https://a"}, salt, created
    )
    forged_header = _encode_header(SlotKind.VAULT, salt, created, {"vault": "https://b"})
    forged = forged_header + data[-73:]
    assert read_slot_info(rehash(forged), forged).meta == {"vault": "https://b"}  # only a hint
    with pytest.raises(WrongKey):
        open_slot(rehash(forged), forged, SECRET, REPO)


def test_newer_version_or_unknown_kind_is_unsupported() -> None:
    _, data = make_slot(SlotKind.RECOVERY, SECRET, MASTER, REPO)
    newer = MAGIC + b"\x02" + data[5:]
    with pytest.raises(UnsupportedSlot):
        read_slot_info(rehash(newer), newer)
    unknown = MAGIC + b"\x01\x08shamir-2" + data[14:]
    with pytest.raises(UnsupportedSlot) as info:
        read_slot_info(rehash(unknown), unknown)
    assert isinstance(info.value, RepositoryError)


@pytest.mark.parametrize(
    "meta_json", [b"[]", b'{"a":1}', b'{"a":null}', b"not json", b"\xff\xfe", b'"x"']
)
def test_malformed_metadata_is_an_integrity_error(meta_json: bytes) -> None:
    header = MAGIC + b"\x01\x08recovery" + b"s" * 32 + b"\x192026-11-26T12:00:00+00:00"
    data = header + len(meta_json).to_bytes(4, "big") + meta_json + bytes(73)
    with pytest.raises(IntegrityError):
        read_slot_info(rehash(data), data)


def test_malformed_time_is_an_integrity_error() -> None:
    header = MAGIC + b"\x01\x08recovery" + b"s" * 32 + b"\x09yesterday"
    data = header + b"\x00\x00\x00\x02{}" + bytes(73)
    with pytest.raises(IntegrityError):
        read_slot_info(rehash(data), data)


def test_not_a_slot_is_an_integrity_error() -> None:
    for data in (b"", b"CFK", b"XXXX\x01" + bytes(200)):
        with pytest.raises(IntegrityError):
            read_slot_info(rehash(data), data)


@pytest.mark.parametrize(
    ("secret", "master", "meta"),
    [
        (b"short", MASTER, None),
        (SECRET, b"short", None),
        (SECRET, MASTER, {"a": 1}),
        (SECRET, MASTER, {"x": "y" * 70000}),
    ],
)
def test_make_slot_refuses_misuse(secret: bytes, master: bytes, meta: object) -> None:
    with pytest.raises(ValueError):
        make_slot(SlotKind.RECOVERY, secret, master, REPO, meta)  # type: ignore[arg-type]


def test_open_slot_refuses_a_short_secret() -> None:
    slot_id, data = make_slot(SlotKind.RECOVERY, SECRET, MASTER, REPO)
    with pytest.raises(ValueError):
        open_slot(slot_id, data, b"password", REPO)


def test_slot_info_holds_no_secret() -> None:
    slot_id, data = make_slot(SlotKind.RECOVERY, SECRET, MASTER, REPO, {"k": "v"})
    text = repr(read_slot_info(slot_id, data))
    assert SECRET.hex() not in text and MASTER.hex() not in text and repr(MASTER) not in text


def test_oversized_metadata_length_is_an_integrity_error() -> None:
    header = MAGIC + b"\x01\x08recovery" + b"s" * 32 + b"\x192026-11-26T12:00:00+00:00"
    data = header + (65537).to_bytes(4, "big") + b"{}" + bytes(65535 + 73)
    with pytest.raises(IntegrityError):
        read_slot_info(rehash(data), data)
