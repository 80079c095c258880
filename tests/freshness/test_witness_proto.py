"""coffer.freshness.witness_proto against its vectors (tests/vectors/witness-v1.json, computed from
the spec with ``cryptography`` directly) and against malformed input."""

from __future__ import annotations

import importlib.util
import json
import pickle
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coffer.crypto.kdf import Label, derive_key
from coffer.freshness import witness_proto as wp
from coffer.freshness.witness_proto import SignedRow, WitnessKeys, WitnessRow

ROOT = Path(__file__).resolve().parents[2]
VECTORS: dict[str, Any] = json.loads(
    (ROOT / "tests" / "vectors" / "witness-v1.json").read_text(encoding="utf-8")
)
MASTER = bytes.fromhex(VECTORS["master_key"])
REPO = bytes.fromhex(VECTORS["repo_id"])
KEYS = WitnessKeys.derive(MASTER, REPO)
ROW = WitnessRow("00112233445566778899aabbccddeeff", 7, b"\x01" * 32)


def test_committed_vectors_match_their_generator() -> None:
    script = ROOT / "scripts" / "gen_witness_vectors.py"
    spec = importlib.util.spec_from_file_location("gen_witness_vectors", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.render() == (ROOT / "tests" / "vectors" / "witness-v1.json").read_text("utf-8")


def test_labels_are_registered_as_in_the_vectors() -> None:
    assert Label.WITNESS_ID.value == VECTORS["labels"]["witness_id"]
    assert Label.WITNESS_SIGN.value == VECTORS["labels"]["signing_seed"]
    assert Label.WITNESS_DIGEST.value == VECTORS["labels"]["digest_key"]
    assert (
        derive_key(MASTER, Label.WITNESS_SIGN, salt=REPO).hex() == (VECTORS["keys"]["signing_seed"])
    )


def test_keys_match_the_vectors() -> None:
    assert KEYS.witness_id.hex() == VECTORS["keys"]["witness_id"]
    assert KEYS.public_key.hex() == VECTORS["public_key"]
    for d in VECTORS["digests"]:
        assert KEYS.digest(d["object_id"]).hex() == d["digest"]


@pytest.mark.parametrize("v", VECTORS["rows"], ids=lambda v: str(v["seq"]))
def test_rows_messages_signatures_and_bodies(v: dict[str, Any]) -> None:
    row = WitnessRow(v["writer"], v["seq"], KEYS.digest(v["object_id"]))
    assert row.digest.hex() == v["digest"]
    assert wp.row_message(KEYS.witness_id, row).hex() == v["message"]
    assert len(bytes.fromhex(v["message"])) == wp.ROW_MESSAGE_LEN
    assert wp.sign_row(KEYS, row).hex() == v["signature"]
    assert wp.verify_row(KEYS.public_key, KEYS.witness_id, row, bytes.fromhex(v["signature"]))
    assert wp.update_request(KEYS, row) == v["update_body"]
    parsed = wp.parse_update_request(v["update_body"])
    assert (parsed.witness_id, parsed.public_key, parsed.row) == (
        KEYS.witness_id,
        KEYS.public_key,
        row,
    )
    assert parsed.signature.hex() == v["signature"]


def test_read_body_matches_the_vectors() -> None:
    assert wp.read_request(KEYS) == VECTORS["read_body"]
    assert wp.parse_read_request(VECTORS["read_body"]) == KEYS.witness_id


def test_keys_are_per_repository_and_per_master_key() -> None:
    other_repo = WitnessKeys.derive(MASTER, REPO[::-1])
    other_master = WitnessKeys.derive(bytes(32), REPO)
    for other in (other_repo, other_master):
        assert other.witness_id != KEYS.witness_id
        assert other.public_key != KEYS.public_key
        assert other.digest("ab" * 32) != KEYS.digest("ab" * 32)
        assert not other.owns(KEYS.public_key)
    assert KEYS.owns(KEYS.public_key)
    assert not KEYS.owns(KEYS.public_key.hex())


def test_keys_never_show_a_secret() -> None:
    text = repr(KEYS) + str(KEYS) + repr(wp.parse_update_request(wp.update_request(KEYS, ROW)))
    for secret in (KEYS.witness_id, bytes.fromhex(VECTORS["keys"]["signing_seed"])):
        assert secret.hex() not in text and wp.b64e(secret) not in text
    assert "redacted" in repr(KEYS)
    with pytest.raises(TypeError):
        pickle.dumps(KEYS)


@pytest.mark.parametrize(("master", "repo"), [(b"x" * 31, REPO), (MASTER, b""), ("m" * 32, REPO)])
def test_derive_refuses_bad_inputs(master: Any, repo: Any) -> None:
    with pytest.raises(ValueError):
        WitnessKeys.derive(master, repo)


@pytest.mark.parametrize("oid", ["", "abc", "AB" * 32, "zz" * 32, 5])
def test_digest_refuses_non_canonical_object_ids(oid: Any) -> None:
    with pytest.raises(ValueError):
        KEYS.digest(oid)


@pytest.mark.parametrize(
    ("writer", "seq", "digest"),
    [
        ("00112233445566778899AABBCCDDEEFF", 1, b"\0" * 32),  # uppercase: a second spelling
        ("0011", 1, b"\0" * 32),
        ("00112233445566778899aabbccddeeff", 0, b"\0" * 32),
        ("00112233445566778899aabbccddeeff", 2**53, b"\0" * 32),
        ("00112233445566778899aabbccddeeff", True, b"\0" * 32),
        ("00112233445566778899aabbccddeeff", 1.0, b"\0" * 32),
        ("00112233445566778899aabbccddeeff", 1, b"\0" * 31),
    ],
)
def test_rows_have_one_canonical_form(writer: Any, seq: Any, digest: Any) -> None:
    with pytest.raises(ValueError):
        WitnessRow(writer, seq, digest)


def test_verify_refuses_every_change_and_never_raises() -> None:
    sig = wp.sign_row(KEYS, ROW)
    other = WitnessKeys.derive(MASTER, b"another repository")
    assert wp.verify_row(KEYS.public_key, KEYS.witness_id, ROW, sig)
    bad = [
        (other.public_key, KEYS.witness_id, ROW, sig),  # other key
        (KEYS.public_key, other.witness_id, ROW, sig),  # row moved to another witness
        (KEYS.public_key, KEYS.witness_id, WitnessRow(ROW.writer, 8, ROW.digest), sig),
        (KEYS.public_key, KEYS.witness_id, ROW, sig[:-1] + bytes([sig[-1] ^ 1])),
        (KEYS.public_key, KEYS.witness_id, ROW, sig[:63]),
        (b"\xff" * 32, KEYS.witness_id, ROW, sig),  # not a curve point
        (KEYS.public_key[:31], KEYS.witness_id, ROW, sig),
        (KEYS.public_key, KEYS.witness_id[:31], ROW, sig),
        (KEYS.public_key, KEYS.witness_id, "row", sig),
        (None, None, None, None),
        (KEYS.public_key, KEYS.witness_id, ROW, sig.hex()),
    ]
    for args in bad:
        assert wp.verify_row(*args) is False


@settings(deadline=None, max_examples=50)
@given(st.binary(min_size=64, max_size=64))
def test_random_signatures_do_not_verify(sig: bytes) -> None:
    assert not wp.verify_row(KEYS.public_key, KEYS.witness_id, ROW, sig)


def _body(**changes: Any) -> dict[str, Any]:
    body = wp.update_request(KEYS, ROW)
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


@pytest.mark.parametrize(
    "body",
    [
        [],
        _body(witness_id="AAAA"),
        _body(witness_id=None),
        _body(public_key=wp.b64e(b"\0" * 33)),
        _body(writer="00112233445566778899AABBCCDDEEFF"),
        _body(writer=5),
        _body(seq="7"),
        _body(seq=0),
        _body(seq=2**53),
        _body(seq=False),
        _body(digest="!!"),
        _body(signature=wp.b64e(b"\0" * 63)),
        _body(signature="A" * 10_000),
    ],
)
def test_malformed_update_bodies_are_value_errors(body: Any) -> None:
    with pytest.raises(ValueError):
        wp.parse_update_request(body)


def test_padded_base64_is_tolerated_on_input() -> None:
    body = _body(digest=wp.b64e(ROW.digest) + "=")
    assert wp.parse_update_request(body).row == ROW


def test_read_response_round_trip_and_checks() -> None:
    rows = [
        SignedRow(WitnessRow("ff" * 16, 2, b"\2" * 32), b"\5" * 64, "2026-12-01T20:00:00Z"),
        SignedRow(ROW, wp.sign_row(KEYS, ROW), "2026-12-01T20:00:01.123456Z"),
    ]
    body = wp.read_response(KEYS.public_key, rows)
    assert [r["writer"] for r in body["rows"]] == [ROW.writer, "ff" * 16]
    key, parsed = wp.parse_read_response(json.loads(json.dumps(body)))
    assert key == KEYS.public_key and parsed == rows[::-1]
    assert wp.parse_read_response(wp.read_response(None, [])) == (None, [])
    dup = dict(body, rows=[body["rows"][0], body["rows"][0]])
    for bad in (
        dup,
        dict(body, public_key=None),
        dict(body, rows="x"),
        dict(body, rows=[dict(body["rows"][0], updated="2026-12-01 20:00:00")]),
        dict(body, rows=[dict(body["rows"][0], updated="2026-12-01T20:00:00+01:00")]),
        {"rows": []},
    ):
        if bad == {"rows": []}:
            assert wp.parse_read_response(bad) == (None, [])
            continue
        with pytest.raises(ValueError):
            wp.parse_read_response(bad)


def test_seq_answers() -> None:
    assert wp.parse_seq_answer(wp.update_response(ROW), "seq") == 7
    assert wp.parse_seq_answer({"stored_seq": 9}, "stored_seq") == 9
    for bad in ({}, {"seq": "7"}, {"seq": 0}, []):
        with pytest.raises(ValueError):
            wp.parse_seq_answer(bad, "seq")
