"""Password change/set/remove, key add-recovery/remove, config precedence and --remember."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from coffer.vault.client import VaultClient

from .support import NEW_PASSWORD, PASSWORD, WRONG, InProcessVault, run_cli, tree_digest


def _pw(tmp: Path, text: str, name: str) -> str:
    path = tmp / name
    path.write_text(text + "\n")
    return str(path)


def _kinds(capsys, repo: str) -> list[str]:
    r = run_cli(capsys, "key", "list", "--repo", repo, "--json")
    assert r.code == 0, r.err
    return sorted(row["kind"] for row in json.loads(r.out))


def test_password_change_rewrites_no_object(
    vault: InProcessVault, source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = str(tmp_path / "repo")
    old, new = _pw(tmp_path, PASSWORD, "old.txt"), _pw(tmp_path, NEW_PASSWORD, "new.txt")
    r = run_cli(
        capsys, "init", "--repo", repo, "--vault", vault.url, "--account", "gina",
        "--password", "--no-recovery-key", "--password-file", old,
    )  # fmt: skip
    assert r.code == 0, r.err
    assert run_cli(capsys, "backup", "--repo", repo, "--password-file", old, str(source)).code == 0
    before = tree_digest(Path(repo))
    assert any(name.startswith("data/") for name in before)

    weak = _pw(tmp_path, "gina12345", "weak.txt")
    r = run_cli(
        capsys, "password", "change", "--repo", repo, "--password-file", old,
        "--new-password-file", weak,
    )  # fmt: skip
    assert r.code == 2 and "too weak" in r.err
    r = run_cli(
        capsys, "password", "change", "--repo", repo, "--password-file", old,
        "--new-password-file", new,
    )  # fmt: skip
    assert r.code == 0, r.err
    assert tree_digest(Path(repo)) == before  # no pack, index, snapshot or key slot rewritten

    r = run_cli(capsys, "snapshots", "--repo", repo, "--password-file", old)
    assert r.code == 11 and "wrong password — 9 attempts left" in r.err
    target = tmp_path / "out"
    r = run_cli(
        capsys, "restore", "--repo", repo, "--password-file", new, "latest", "--target",
        str(target),
    )  # fmt: skip
    assert r.code == 0, r.err
    assert tree_digest(target / "chats") == tree_digest(source)
    # a wrong current password cannot change it
    r = run_cli(
        capsys, "password", "change", "--repo", repo, "--password-file",
        _pw(tmp_path, WRONG, "wrong.txt"), "--new-password-file", old,
    )  # fmt: skip
    assert r.code == 11 and "attempts left" in r.err


def test_set_and_remove_password_and_recovery_slots(
    vault: InProcessVault, source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = str(tmp_path / "repo")
    key_file = tmp_path / "recovery.txt"
    pw = _pw(tmp_path, PASSWORD, "pw.txt")
    assert run_cli(capsys, "init", "--repo", repo, "--save-recovery-key", str(key_file)).code == 0
    kf = ["--recovery-key-file", str(key_file)]
    assert run_cli(capsys, "backup", "--repo", repo, *kf, str(source)).code == 0
    r = run_cli(
        capsys, "password", "set", "--repo", repo, *kf, "--vault", vault.url,
        "--account", "hana", "--new-password-file", pw,
    )  # fmt: skip
    assert r.code == 0, r.err
    assert _kinds(capsys, repo) == ["recovery", "vault"]
    assert run_cli(capsys, "snapshots", "--repo", repo, "--password-file", pw).code == 0
    other = tmp_path / "other"
    r = run_cli(
        capsys, "init", "--repo", str(other), "--vault", vault.url, "--account", "hana",
        "--password", "--no-recovery-key", "--password-file", pw,
    )  # fmt: skip
    assert r.code == 15 and "already has an account 'hana'" in r.err
    assert not (other / "config").exists()

    # remove the recovery key with the password; the last slot cannot go
    recovery_id = next(
        row["id"]
        for row in json.loads(run_cli(capsys, "key", "list", "--repo", repo, "--json").out)
        if row["kind"] == "recovery"
    )
    r = run_cli(capsys, "key", "remove", "--repo", repo, "--password-file", pw, recovery_id[:8])
    assert r.code == 0, r.err
    assert _kinds(capsys, repo) == ["vault"]
    r = run_cli(capsys, "password", "remove", "--repo", repo, "--password-file", pw)
    assert r.code == 2 and "only key slot" in r.err
    assert _kinds(capsys, repo) == ["vault"]

    # add a recovery key back (printed once), then remove the password route completely
    new_key = tmp_path / "recovery2.txt"
    r = run_cli(
        capsys, "key", "add-recovery", "--repo", repo, "--password-file", pw,
        "--save-recovery-key", str(new_key),
    )  # fmt: skip
    assert r.code == 0 and new_key.read_text().strip() in r.out
    assert stat.S_IMODE(new_key.stat().st_mode) == 0o600
    r = run_cli(capsys, "password", "remove", "--repo", repo, "--password-file", pw)
    assert r.code == 0, r.err
    assert _kinds(capsys, repo) == ["recovery"]
    row = vault.store.raw_account("hana")  # the vault no longer holds the escrowed key
    assert row is None or (row["secret"] is None and row["state"] != "active")
    r = run_cli(capsys, "snapshots", "--repo", repo, "--password-file", pw)
    assert r.code == 11 and "no password slot" in r.err
    r = run_cli(capsys, "restore", "--repo", repo, "--recovery-key-file", str(new_key),
                "latest", "--target", str(tmp_path / "out"))  # fmt: skip
    assert r.code == 0, r.err
    r = run_cli(capsys, "key", "remove", "--repo", repo, "--recovery-key-file", str(new_key),
                "ffff")  # fmt: skip
    assert r.code == 2 and "no key slot" in r.err


def test_vault_settings_come_from_flags_then_environment_then_config_file(
    vault: InProcessVault,
    source: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    isolated_user: Path,
) -> None:
    pw = _pw(tmp_path, PASSWORD, "pw.txt")
    isolated_user.mkdir(parents=True, exist_ok=True)
    (isolated_user / "config.toml").write_text(
        f'[vault]\nurl = "{vault.url}"\naccount = "ivan"\nkey = "{vault.fingerprint}"\n'
    )
    repo = str(tmp_path / "repo")
    r = run_cli(
        capsys,
        "init",
        "--repo",
        repo,
        "--password",
        "--no-recovery-key",
        "--password-file",
        pw,
        "--json",
    )
    assert r.code == 0, r.err
    assert json.loads(r.out)["account"] == "ivan"  # from the config file
    monkeypatch.setenv("COFFER_ACCOUNT", "nobody-here")  # environment beats the file
    r = run_cli(capsys, "snapshots", "--repo", repo, "--password-file", pw)
    assert r.code == 2 and "made for account 'ivan', not 'nobody-here'" in r.err  # no guess
    r = run_cli(capsys, "snapshots", "--repo", repo, "--password-file", pw, "--account", "ivan")
    assert r.code == 0, r.err  # the flag beats the environment
    monkeypatch.delenv("COFFER_ACCOUNT")
    r = run_cli(capsys, "snapshots", "--repo", repo, "--password-file", pw, "--vault", "file:///x")
    assert r.code == 2 and "http:// or https://" in r.err
    (isolated_user / "config.toml").write_text("[vault\nurl = 1")
    r = run_cli(capsys, "snapshots", "--repo", repo, "--password-file", pw)
    assert r.code == 2 and "not valid TOML" in r.err


def test_remember_only_when_asked(
    vault: InProcessVault,
    source: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    isolated_user: Path,
) -> None:
    monkeypatch.setenv("COFFER_REMEMBER_BACKEND", "file")  # the 0600 file, even with a keyring
    repo = str(tmp_path / "repo")
    pw = _pw(tmp_path, PASSWORD, "pw.txt")
    r = run_cli(
        capsys, "init", "--repo", repo, "--vault", vault.url, "--account", "jo", "--password",
        "--no-recovery-key", "--password-file", pw,
    )  # fmt: skip
    assert r.code == 0, r.err
    assert run_cli(capsys, "backup", "--repo", repo, "--password-file", pw, str(source)).code == 0
    assert not (isolated_user / "remembered").exists()  # nothing kept by default
    r = run_cli(capsys, "snapshots", "--repo", repo)
    assert r.code == 11 and "no password given" in r.err

    r = run_cli(capsys, "snapshots", "--repo", repo, "--password-file", pw, "--remember")
    assert r.code == 0 and "remembered the key" in r.err
    files = list((isolated_user / "remembered").iterdir())
    assert len(files) == 1 and stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(files[0].parent.stat().st_mode) == 0o700
    assert PASSWORD not in files[0].read_text()
    before = VaultClient(vault.url, transport=vault.http._transport).attempts_left("jo")
    assert run_cli(capsys, "snapshots", "--repo", repo, "--json").code == 0  # no password needed

    r = run_cli(capsys, "key", "forget", "--repo", repo)
    assert r.code == 0 and "forgot" in r.out and not files[0].exists()
    assert run_cli(capsys, "snapshots", "--repo", repo).code == 11
    assert before == 10


def test_remember_uses_the_os_keyring_when_there_is_one(
    vault: InProcessVault,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    isolated_user: Path,
) -> None:
    import keyring
    from keyrings.alt.file import PlaintextKeyring

    class RecommendedFileKeyring(PlaintextKeyring):
        """A real keyring backend (a file under XDG_DATA_HOME) ranked like an OS keyring."""

        priority = 1

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    backend = RecommendedFileKeyring()
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    try:
        repo = str(tmp_path / "repo")
        pw = _pw(tmp_path, PASSWORD, "pw.txt")
        r = run_cli(
            capsys, "init", "--repo", repo, "--vault", vault.url, "--account", "kai",
            "--password", "--no-recovery-key", "--password-file", pw, "--json",
        )  # fmt: skip
        assert r.code == 0, r.err
        repo_id = json.loads(r.out)["repository_id"]
        r = run_cli(capsys, "snapshots", "--repo", repo, "--password-file", pw, "--remember")
        assert r.code == 0 and "OS keyring (RecommendedFileKeyring)" in r.err
        assert not (isolated_user / "remembered").exists()
        stored = backend.get_password("coffer", repo_id)
        assert stored is not None and stored.startswith("vault:") and PASSWORD not in stored
        assert run_cli(capsys, "snapshots", "--repo", repo).code == 0
        assert run_cli(capsys, "key", "forget", "--repo", repo).code == 0
        assert backend.get_password("coffer", repo_id) is None
        assert run_cli(capsys, "snapshots", "--repo", repo).code == 11
    finally:
        keyring.set_keyring(previous)
