"""``coffer vault init`` / ``serve`` through click's CliRunner (in process)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from coffer.cli.vault_cmd import vault
from coffer.vault.seal import KeyFileSealer
from coffer.vault.server import load_setup, open_store

from .conftest import HSM_PIN, SOFTHSM_LIB


def test_init_prints_key_and_refuses_twice(tmp_path: Path) -> None:
    db, key = str(tmp_path / "v.db"), str(tmp_path / "seal.key")
    runner = CliRunner()
    first = runner.invoke(vault, ["init", "--db", db, "--key-file", key])
    assert first.exit_code == 0, first.output
    assert "fingerprint:" in first.output and "public key:" in first.output
    setup = load_setup(open_store(db), KeyFileSealer(Path(key)))
    assert setup.public_key.hex() not in first.output  # shown as base64url, checked below
    from coffer.vault import wire

    assert wire.b64e(setup.public_key) in first.output
    again = runner.invoke(vault, ["init", "--db", db, "--key-file", key])
    assert again.exit_code == 15 and "already initialised" in again.output


def test_serve_refuses_missing_or_wrong_seal_key(tmp_path: Path) -> None:
    db = str(tmp_path / "v.db")
    runner = CliRunner()
    assert (
        runner.invoke(vault, ["init", "--db", db, "--key-file", str(tmp_path / "a")]).exit_code == 0
    )
    missing = runner.invoke(vault, ["serve", "--db", db, "--key-file", str(tmp_path / "none")])
    assert missing.exit_code == 15 and "missing" in missing.output
    KeyFileSealer.create(tmp_path / "b")
    wrong = runner.invoke(vault, ["serve", "--db", db, "--key-file", str(tmp_path / "b")])
    assert wrong.exit_code == 15 and "does not open" in wrong.output
    uninit = runner.invoke(
        vault, ["serve", "--db", str(tmp_path / "fresh.db"), "--key-file", str(tmp_path / "a")]
    )
    assert uninit.exit_code == 15 and "vault init" in uninit.output


@pytest.mark.integration
def test_init_with_pkcs11(
    softhsm_token: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COFFER_VAULT_PKCS11_PIN", HSM_PIN)
    db = str(tmp_path / "v.db")
    args = [
        "--db",
        db,
        "--pkcs11-lib",
        SOFTHSM_LIB,
        "--pkcs11-token",
        softhsm_token,
        "--pkcs11-key",
        "cli-" + tmp_path.name[-12:],
    ]
    result = CliRunner().invoke(vault, ["init", *args])
    assert result.exit_code == 0, result.output
    monkeypatch.setenv("COFFER_VAULT_PKCS11_PIN", "0000")
    bad = CliRunner().invoke(vault, ["serve", *args])
    assert bad.exit_code == 15 and "PKCS#11" in bad.output
