"""Sealing the server setup: key file rules, and the PKCS#11 path against a real SoftHSM2 token."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from coffer.vault.errors import SealError, VaultConfigError
from coffer.vault.seal import KeyFileSealer, Pkcs11Sealer
from coffer.vault.server import init_vault, load_setup
from coffer.vault.store_sqlite import SqliteStore

from .conftest import HSM_PIN as PIN
from .conftest import SOFTHSM_LIB


def test_key_file_is_0600_and_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "k"
    sealer = KeyFileSealer.create(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert "redacted" in repr(sealer) and path.read_bytes().hex() not in repr(sealer)
    with pytest.raises(SealError):
        KeyFileSealer.create(path)


def test_key_file_round_trip_and_tamper(tmp_path: Path) -> None:
    sealer = KeyFileSealer.create(tmp_path / "k")
    blob = sealer.seal(b"server setup")
    assert b"server setup" not in blob and sealer.unseal(blob) == b"server setup"
    for i in (4, len(blob) // 2, len(blob) - 1):
        bad = bytearray(blob)
        bad[i] ^= 1
        with pytest.raises(SealError):
            sealer.unseal(bytes(bad))


def test_key_file_missing_wrong_or_too_open(tmp_path: Path) -> None:
    with pytest.raises(SealError, match="missing"):
        KeyFileSealer(tmp_path / "absent")
    path = tmp_path / "open"
    KeyFileSealer.create(path)
    path.chmod(0o644)
    with pytest.raises(SealError, match="readable by others"):
        KeyFileSealer(path)
    blob = KeyFileSealer.create(tmp_path / "a").seal(b"x" * 40)
    with pytest.raises(SealError, match="does not open"):
        KeyFileSealer.create(tmp_path / "b").unseal(blob)


def test_wrong_seal_key_is_a_startup_error(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "v.db")
    setup = init_vault(store, KeyFileSealer.create(tmp_path / "right"))
    assert load_setup(store, KeyFileSealer(tmp_path / "right")).public_key == setup.public_key
    with pytest.raises(SealError):
        load_setup(store, KeyFileSealer.create(tmp_path / "wrong"))
    with pytest.raises(VaultConfigError, match="already initialised"):
        init_vault(store, KeyFileSealer(tmp_path / "right"))
    empty = SqliteStore(tmp_path / "empty.db")
    empty.create_schema()
    with pytest.raises(VaultConfigError, match="vault init"):
        load_setup(empty, KeyFileSealer(tmp_path / "right"))


@pytest.fixture
def softhsm(softhsm_token: str) -> str:
    return softhsm_token


@pytest.fixture
def label() -> str:
    return "seal-" + uuid.uuid4().hex[:8]


@pytest.mark.integration
def test_pkcs11_seal_unseal_on_softhsm(softhsm: str, label: str) -> None:
    sealer = Pkcs11Sealer(SOFTHSM_LIB, softhsm, label, PIN)
    sealer.create_key()
    blob = sealer.seal(b"server setup bytes")
    assert blob.startswith(b"CVP1") and sealer.unseal(blob) == b"server setup bytes"
    assert PIN not in repr(sealer)
    with pytest.raises(SealError):
        sealer.create_key()
    bad = bytearray(blob)
    bad[-1] ^= 1
    with pytest.raises(SealError):
        sealer.unseal(bytes(bad))
    with pytest.raises(SealError):
        Pkcs11Sealer(SOFTHSM_LIB, softhsm, label, "0000").unseal(blob)
    with pytest.raises(SealError):
        Pkcs11Sealer(SOFTHSM_LIB, softhsm, "other-key", PIN).unseal(blob)


@pytest.mark.integration
def test_pkcs11_key_is_not_extractable(softhsm: str, label: str) -> None:
    import pkcs11
    from pkcs11 import Attribute, ObjectClass

    Pkcs11Sealer(SOFTHSM_LIB, softhsm, label, PIN).create_key()
    token = pkcs11.lib(SOFTHSM_LIB).get_token(token_label=softhsm)
    with token.open(user_pin=PIN) as session:
        key = session.get_key(label=label, object_class=ObjectClass.SECRET_KEY)
        assert key[Attribute.EXTRACTABLE] is False and key[Attribute.SENSITIVE] is True
        with pytest.raises(pkcs11.exceptions.PKCS11Error):
            key[Attribute.VALUE]


@pytest.mark.integration
def test_vault_setup_sealed_by_hsm(softhsm: str, label: str, tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "v.db")
    sealer = Pkcs11Sealer(SOFTHSM_LIB, softhsm, label, PIN)
    sealer.create_key()
    setup = init_vault(store, sealer)
    assert load_setup(store, sealer).public_key == setup.public_key
    with pytest.raises(SealError, match="different sealer"):
        load_setup(store, KeyFileSealer.create(tmp_path / "k"))


def test_pkcs11_without_pin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COFFER_VAULT_PKCS11_PIN", raising=False)
    with pytest.raises(SealError, match="PIN"):
        Pkcs11Sealer(SOFTHSM_LIB, "t", "k")
