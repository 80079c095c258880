"""Issue 14 item 3: ``init --password`` alone says what it means and needs a confirmation;
``init`` checks that the vault is reachable and the account free before asking for a password."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from .support import PASSWORD, InProcessVault, run_cli


def _pw(tmp: Path) -> str:
    path = tmp / "pw.txt"
    path.write_text(PASSWORD + "\n")
    return str(path)


def test_password_alone_without_a_terminal_is_refused_with_its_meaning(
    vault: InProcessVault, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    where = ["--repo", str(repo), "--vault", vault.url, "--account", "olga"]
    r = run_cli(capsys, "init", *where, "--password", "--password-file", _pw(tmp_path))
    assert r.code == 2 and r.err.count("\n") == 1
    assert "the password is the only way to open this repository" in r.err
    assert "10 wrong passwords" in r.err and "--no-recovery-key" in r.err
    assert not repo.exists() and vault.store.raw_account("olga") is None  # nothing anywhere
    r = run_cli(capsys, "init", "--repo", str(repo), "--no-recovery-key")
    assert r.code == 2 and "goes with --password" in r.err
    r = run_cli(
        capsys, "init", *where, "--password", "--no-recovery-key", "--password-file", _pw(tmp_path)
    )
    assert r.code == 0 and "key_slot" not in r.out and "recovery key" not in r.out, r.out


def test_a_taken_account_or_an_unreachable_vault_is_reported_before_any_password(
    vault: InProcessVault, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = ["--repo", str(tmp_path / "one"), "--vault", vault.url, "--account", "pia"]
    r = run_cli(capsys, "init", *first, "--password", "--recovery-key", "--password-file",
                _pw(tmp_path))  # fmt: skip
    assert r.code == 0, r.err
    # no password source and no terminal: the refusals come first, not "no new password given"
    second = tmp_path / "two"
    r = run_cli(capsys, "init", "--repo", str(second), "--vault", vault.url, "--account", "pia",
                "--password", "--recovery-key")  # fmt: skip
    assert r.code == 15 and "already has an account 'pia'" in r.err and not second.exists()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{s.getsockname()[1]}"
    r = run_cli(capsys, "init", "--repo", str(second), "--vault", nowhere, "--account", "quin",
                "--password", "--recovery-key")  # fmt: skip
    assert r.code == 15 and "cannot reach the key vault" in r.err and not second.exists()
    r = run_cli(capsys, "init", "--repo", str(second), "--vault", vault.url, "--account", "quin",
                "--password", "--recovery-key")  # fmt: skip
    assert r.code == 11 and "no new password given" in r.err  # only now is a password needed
