"""Committed vectors (tests/vectors/crypto-v1.json, recovery-key-v1.json): every later version of
Coffer must still open and produce exactly these bytes."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from coffer.crypto.aead import _seal_with_nonce, object_ad, open_sealed
from coffer.crypto.blobid import blob_id
from coffer.crypto.kdf import KeyRing, Label, derive_key
from coffer.crypto.recovery import RecoveryKey, RecoveryKeyTypo
from coffer.crypto.slots import SlotKind, _build_slot, open_slot, read_slot_info

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "vectors"
CRYPTO: dict[str, Any] = json.loads((VECTORS / "crypto-v1.json").read_text(encoding="utf-8"))
RECOVERY: dict[str, Any] = json.loads(
    (VECTORS / "recovery-key-v1.json").read_text(encoding="utf-8")
)
MASTER = bytes.fromhex(CRYPTO["master_key"])
REPO = bytes.fromhex(CRYPTO["repo_id"])


def load_script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("script", "filename"),
    [("gen_crypto_vectors", "crypto-v1.json"), ("gen_recovery_vectors", "recovery-key-v1.json")],
)
def test_committed_vectors_match_their_generator(script: str, filename: str) -> None:
    rendered = load_script(script).render()
    assert rendered == (VECTORS / filename).read_text(encoding="utf-8")


@pytest.mark.parametrize("v", CRYPTO["hkdf_sha256"], ids=lambda v: v["label"])
def test_hkdf_labels(v: dict[str, str]) -> None:
    okm = derive_key(
        MASTER,
        Label(v["label"]),
        salt=bytes.fromhex(v["salt"]),
        context=bytes.fromhex(v["context"]),
    )
    assert okm.hex() == v["okm"]


def test_every_label_has_a_vector() -> None:
    assert {v["label"] for v in CRYPTO["hkdf_sha256"]} == {label.value for label in Label}


def test_keyring() -> None:
    ring = KeyRing.derive(MASTER, REPO)
    assert {name: getattr(ring, name).hex() for name in CRYPTO["keyring"]} == CRYPTO["keyring"]


@pytest.mark.parametrize("v", CRYPTO["aead_xchacha20poly1305_v1"], ids=lambda v: v["kind"])
def test_sealed_objects_open_and_reproduce(v: dict[str, str]) -> None:
    key, ad, sealed = (bytes.fromhex(v[k]) for k in ("key", "ad", "sealed"))
    assert object_ad(v["kind"], v["object_id"], bytes.fromhex(v["repo_id"])) == ad
    assert open_sealed(key, sealed, ad).hex() == v["plaintext"]
    again = _seal_with_nonce(key, bytes.fromhex(v["plaintext"]), ad, bytes.fromhex(v["nonce"]))
    assert again == sealed


@pytest.mark.parametrize("v", CRYPTO["blob_id_blake3_keyed"])
def test_blob_ids(v: dict[str, str]) -> None:
    assert blob_id(bytes.fromhex(v["key"]), bytes.fromhex(v["data"])).hex() == v["blob_id"]


@pytest.mark.parametrize("v", CRYPTO["key_slots_v1"], ids=lambda v: v["kind"])
def test_key_slots_open_and_reproduce(v: dict[str, Any]) -> None:
    data = bytes.fromhex(v["object"])
    secret, repo = bytes.fromhex(v["secret"]), bytes.fromhex(v["repo_id"])
    info = read_slot_info(v["slot_id"], data)
    assert (info.kind.value, info.created, info.meta) == (v["kind"], v["created"], v["meta"])
    assert open_slot(v["slot_id"], data, secret, repo).hex() == v["master_key"]
    rebuilt = _build_slot(
        SlotKind(v["kind"]),
        secret,
        bytes.fromhex(v["master_key"]),
        repo,
        v["meta"],
        bytes.fromhex(v["salt"]),
        v["created"],
        bytes.fromhex(v["nonce"]),
    )
    assert rebuilt == (v["slot_id"], data)


@pytest.mark.parametrize("v", RECOVERY["keys"], ids=lambda v: v["secret"][:8])
def test_recovery_key_vectors(v: dict[str, str]) -> None:
    key = RecoveryKey(bytes.fromhex(v["secret"]))
    assert key.display() == v["display"]
    assert v["display"].replace(" ", "") == v["canonical"]
    assert RecoveryKey.parse(v["display"]).secret.hex() == v["secret"]


def test_recovery_key_accepted_spellings() -> None:
    spellings = RECOVERY["accepted_spellings"]
    for text in spellings["texts"]:
        assert RecoveryKey.parse(text).secret.hex() == spellings["secret"]


@pytest.mark.parametrize("v", RECOVERY["typos"], ids=lambda v: v["why"])
def test_recovery_key_typo_vectors(v: dict[str, str]) -> None:
    with pytest.raises(RecoveryKeyTypo, match="typo"):
        RecoveryKey.parse(v["text"])
