"""Issue 14, "the danger to fix first": an unattended run never spends a second vault guess with
the same wrong password, and what is certainly wrong is refused before any guess is spent."""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import stat
import sys
from pathlib import Path

import pysodium
import pytest

from coffer.unlock.stale import FailedPasswords, _hash
from coffer.vault.client import VaultClient

from .support import NEW_PASSWORD, PASSWORD, WRONG, InProcessVault, run_cli


def _pw(tmp: Path, text: str, name: str) -> str:
    path = tmp / name
    path.write_text(text + "\n")
    return str(path)


def _attempts(vault: InProcessVault, account: str) -> int:
    with VaultClient(vault.url, transport=vault.http._transport) as client:
        return client.attempts_left(account)


def _init(capsys, tmp: Path, vault: InProcessVault, account: str = "nora") -> tuple[str, str]:
    repo, pw = str(tmp / "repo"), _pw(tmp, PASSWORD, "pw.txt")
    r = run_cli(
        capsys, "init", "--repo", repo, "--vault", vault.url, "--account", account,
        "--password", "--recovery-key", "--password-file", pw,
    )  # fmt: skip
    assert r.code == 0, r.err
    return repo, pw


def _records(isolated_user: Path) -> list[Path]:
    folder = isolated_user / "state" / "failed-passwords"
    return sorted(folder.iterdir()) if folder.exists() else []


def test_five_unattended_runs_with_a_wrong_password_spend_exactly_one_guess(
    vault: InProcessVault,
    source: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    isolated_user: Path,
) -> None:
    repo, pw = _init(capsys, tmp_path, vault)
    stale = _pw(tmp_path, WRONG, "stale.txt")
    job = ["backup", "--repo", repo, "--password-file", stale, "-q", str(source)]
    r = run_cli(capsys, *job)
    assert r.code == 11 and "wrong password — 9 attempts left" in r.err, r.err
    assert _attempts(vault, "nora") == 9
    for _ in range(4):
        r = run_cli(capsys, *job)
        assert r.code == 16 and r.err.count("\n") == 1, r.err
        assert f"the password from --password-file {stale} already failed" in r.err
        assert "(the vault then had 9 attempts left)" in r.err and "no guess was spent" in r.err
        assert _attempts(vault, "nora") == 9  # the vault's counter did not move

    [record] = _records(isolated_user)
    assert stat.S_IMODE(record.stat().st_mode) == 0o600
    text = record.read_text()
    assert WRONG not in text and hashlib.sha256(WRONG.encode()).hexdigest() not in text
    assert json.loads(text)["version"] == 1

    r = run_cli(capsys, "backup", "--repo", repo, "--password-file", pw, "-q", str(source))
    assert r.code == 0, r.err
    assert _attempts(vault, "nora") == 10 and _records(isolated_user) == []  # success clears it


def test_a_changed_password_file_is_tried_once(
    vault: InProcessVault, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo, _pw_file = _init(capsys, tmp_path, vault)
    job = ["snapshots", "--repo", repo, "--password-file", str(tmp_path / "job.txt")]
    _pw(tmp_path, WRONG, "job.txt")
    assert run_cli(capsys, *job).code == 11
    assert run_cli(capsys, *job).code == 16
    _pw(tmp_path, NEW_PASSWORD, "job.txt")  # the user edits the file: a new input is tried
    r = run_cli(capsys, *job)
    assert r.code == 11 and "8 attempts left" in r.err
    assert run_cli(capsys, *job).code == 16 and _attempts(vault, "nora") == 8
    _pw(tmp_path, PASSWORD, "job.txt")
    assert run_cli(capsys, *job).code == 0 and _attempts(vault, "nora") == 10


def test_the_record_is_per_device(
    vault: InProcessVault,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo, _pw_file = _init(capsys, tmp_path, vault)
    job = ["snapshots", "--repo", repo, "--password-file", _pw(tmp_path, WRONG, "w.txt")]
    assert run_cli(capsys, *job).code == 11
    monkeypatch.setenv("COFFER_CONFIG", str(tmp_path / "device2" / "config.toml"))
    assert run_cli(capsys, *job).code == 11  # another device knows nothing of the first's record
    assert _attempts(vault, "nora") == 8


def test_an_account_or_vault_key_mismatch_spends_no_guess(
    vault: InProcessVault,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo, pw = _init(capsys, tmp_path, vault)
    base = ["snapshots", "--repo", repo, "--password-file", pw]
    r = run_cli(capsys, *base, "--account", "nora-typo")
    assert r.code == 2 and r.err.count("\n") == 1
    assert "made for account 'nora', not 'nora-typo'" in r.err and "none was sent" in r.err
    monkeypatch.setenv("COFFER_ACCOUNT", "nobody")
    assert run_cli(capsys, *base).code == 2
    monkeypatch.delenv("COFFER_ACCOUNT")
    impostor = InProcessVault(tmp_path / "impostor", "sqlite")
    try:
        r = run_cli(capsys, *base, "--vault-key", impostor.fingerprint)
        assert r.code == 2 and "not the one this repository's password slot was made with" in r.err
        assert _attempts(impostor, "nora") == 10
    finally:
        impostor.close()
    assert _attempts(vault, "nora") == 10 and _attempts(vault, "nora-typo") == 10
    r = run_cli(capsys, *base, "--account", "nora", "--vault-key", vault.fingerprint)
    assert r.code == 0, r.err


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_vault_spends_no_guess_and_runs_no_password_command(
    vault: InProcessVault, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo, _pw_file = _init(capsys, tmp_path, vault)
    marker = tmp_path / "command-ran"
    script = tmp_path / "pw.py"
    script.write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).touch()\nprint({PASSWORD!r})\n"
    )
    nowhere = f"http://127.0.0.1:{_closed_port()}"
    r = run_cli(
        capsys, "snapshots", "--repo", repo, "--vault", nowhere, "--password-command",
        f"{sys.executable} {script}",
    )  # fmt: skip
    assert r.code == 15 and "cannot reach the key vault" in r.err
    assert not marker.exists()  # checked before the password was even read
    assert _attempts(vault, "nora") == 10


def test_the_record_is_a_salted_argon2id_hash(tmp_path: Path) -> None:
    """The record's hash checked against an independent Argon2id (libsodium's crypto_pwhash)."""
    failures = FailedPasswords(b"\x01" * 16, tmp_path)
    failures.record("slot-a", b"old password", "COFFER_PASSWORD", 9)
    entry = json.loads(failures.path.read_text())["slots"]["slot-a"]
    raw_salt = base64.urlsafe_b64decode(entry["salt"] + "=" * (-len(entry["salt"]) % 4))
    labelled = b"coffer/v1/failed-password\x00slot-a\x00old password"
    expected = pysodium.crypto_pwhash(
        32, labelled, raw_salt, 2, 19456 * 1024, pysodium.crypto_pwhash_ALG_ARGON2ID13
    )
    assert _hash("slot-a", b"old password", raw_salt, 19456, 2, 1) == expected
    assert failures.failed_before("slot-a", b"old password") is not None
    assert failures.failed_before("slot-a", b"another") is None
    assert failures.failed_before("slot-b", b"old password") is None
    failures.record("slot-b", b"old password", "COFFER_PASSWORD", 9)
    other = json.loads(failures.path.read_text())["slots"]["slot-b"]
    assert other["salt"] != entry["salt"] and other["hash"] != entry["hash"]
    failures.path.write_text("{not json")
    assert failures.failed_before("slot-a", b"old password") is None  # unreadable: no record
    failures.clear("slot-a")


def test_another_vault_address_spends_no_guess_there(
    vault: InProcessVault, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A --vault that is not the slot's vault (say a stale config after a move) presents another
    key than the one the slot pinned: nothing derived from the password is sent to it."""
    repo, pw = _init(capsys, tmp_path, vault)
    other = InProcessVault(tmp_path / "other", "sqlite")
    try:
        r = run_cli(
            capsys, "snapshots", "--repo", repo, "--password-file", pw, "--vault", other.url
        )
        assert r.code == 15 and "refusing to send anything derived from the password" in r.err
        assert _attempts(other, "nora") == 10
    finally:
        other.close()
    assert _attempts(vault, "nora") == 10
