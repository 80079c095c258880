"""New-device restores: with the password only, with the recovery key only, with both slots."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .support import PASSWORD, InProcessVault, run_cli, tree_digest

BOTH_STORES = pytest.mark.parametrize("vault", ["sqlite", "postgres"], indirect=True)


def _pw(tmp: Path, text: str, name: str = "pw.txt") -> str:
    path = tmp / name
    path.write_text(text + "\n")
    return str(path)


def _new_device(tmp: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv("COFFER_CONFIG", str(tmp / name / "config.toml"))


@BOTH_STORES
def test_password_only_restore_on_a_new_device(
    vault: InProcessVault,
    source: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo = str(tmp_path / "repo")
    pw = _pw(tmp_path, PASSWORD)
    where = ["--repo", repo, "--vault", vault.url, "--account", "alice@example.net"]
    r = run_cli(
        capsys, "init", *where, "--password", "--no-recovery-key", "--password-file", pw, "--json"
    )
    assert r.code == 0, r.err
    created = json.loads(r.out)
    assert "recovery_key" not in created and created["vault_fingerprint"] == vault.fingerprint
    r = run_cli(capsys, "backup", "--repo", repo, "--password-file", pw, str(source))
    assert r.code == 0, r.err

    _new_device(tmp_path, monkeypatch, "device2")  # the phone is lost: no config, no pins
    target = tmp_path / "restored"
    r = run_cli(capsys, "restore", *where, "--password-file", pw, "latest", "--target", str(target))
    assert r.code == 0, r.err
    assert tree_digest(target / "chats") == tree_digest(source)

    # the slot's metadata alone is enough to find the vault and the account
    _new_device(tmp_path, monkeypatch, "device3")
    r = run_cli(capsys, "snapshots", "--repo", repo, "--password-file", pw, "--json")
    assert r.code == 0, r.err and len(json.loads(r.out)) == 1
    r = run_cli(capsys, "snapshots", "--repo", repo, "--recovery-key-file", pw)
    assert r.code == 11  # no recovery key exists for this repository


@BOTH_STORES
def test_both_slots_each_open_the_repository(
    vault: InProcessVault,
    source: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo = str(tmp_path / "repo")
    pw = _pw(tmp_path, PASSWORD)
    key_file = tmp_path / "recovery.txt"
    r = run_cli(
        capsys,
        "init",
        "--repo",
        repo,
        "--vault",
        vault.url,
        "--account",
        "bob",
        "--password",
        "--recovery-key",
        "--save-recovery-key",
        str(key_file),
        "--password-file",
        pw,
    )
    assert r.code == 0, r.err
    assert key_file.read_text().strip() in r.out and "password slot" in r.out
    assert run_cli(capsys, "backup", "--repo", repo, "--password-file", pw, str(source)).code == 0

    _new_device(tmp_path, monkeypatch, "device2")
    by_key = tmp_path / "by-key"
    r = run_cli(
        capsys, "restore", "--repo", repo, "--recovery-key-file", str(key_file), "latest",
        "--target", str(by_key),
    )  # fmt: skip
    assert r.code == 0, r.err
    by_password = tmp_path / "by-password"
    r = run_cli(
        capsys, "restore", "--repo", repo, "--password-file", pw, "latest",
        "--target", str(by_password),
    )  # fmt: skip
    assert r.code == 0, r.err
    assert tree_digest(by_key / "chats") == tree_digest(source)
    assert tree_digest(by_password / "chats") == tree_digest(source)

    r = run_cli(capsys, "key", "list", "--repo", repo, "--json")
    rows = json.loads(r.out)
    assert sorted(row["kind"] for row in rows) == ["recovery", "vault"]
    vault_row = next(row for row in rows if row["kind"] == "vault")
    assert vault_row["account"] == "bob" and vault_row["vault_url"] == vault.url
    text = run_cli(capsys, "key", "list", "--repo", repo).out
    for secret in (PASSWORD, key_file.read_text().strip()):
        assert secret not in r.out and secret not in text


def test_recovery_key_only_repository_is_unchanged_by_default(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = str(tmp_path / "repo")
    key_file = tmp_path / "recovery.txt"
    r = run_cli(capsys, "init", "--repo", repo, "--save-recovery-key", str(key_file))
    assert r.code == 0 and "recovery key" in r.out.lower()
    kf = ["--repo", repo, "--recovery-key-file", str(key_file)]
    assert run_cli(capsys, "backup", *kf, str(source)).code == 0
    r = run_cli(capsys, "restore", *kf, "latest", "--target", str(tmp_path / "out"))
    assert r.code == 0, r.err
    assert tree_digest(tmp_path / "out" / "chats") == tree_digest(source)
    rows = json.loads(run_cli(capsys, "key", "list", "--repo", repo, "--json").out)
    assert [row["kind"] for row in rows] == ["recovery"]
    r = run_cli(capsys, "snapshots", "--repo", repo, "--password-file", str(key_file))
    assert r.code == 11 and "no password slot" in r.err
