"""Wrong passwords count down and lock; an unreachable or impostor vault is reported clearly."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from coffer.unlock import vault_route as unlock
from coffer.vault.client import VaultClient

from .support import PASSWORD, WRONG, InProcessVault, run_cli, tree_digest


def _pw(tmp: Path, text: str, name: str) -> str:
    path = tmp / name
    path.write_text(text + "\n")
    return str(path)


def _init(capsys, tmp: Path, vault: InProcessVault, *extra: str) -> tuple[str, str, Path]:
    repo = str(tmp / "repo")
    pw = _pw(tmp, PASSWORD, "pw.txt")
    key_file = tmp / "recovery.txt"
    r = run_cli(
        capsys, "init", "--repo", repo, "--vault", vault.url, "--account", "carol",
        "--password", "--password-file", pw, "--save-recovery-key", str(key_file), *extra,
    )  # fmt: skip
    assert r.code == 0, r.err
    return repo, pw, key_file


def _attempts(vault: InProcessVault, account: str) -> int:
    with VaultClient(vault.url, transport=vault.http._transport) as client:
        return client.attempts_left(account)


@pytest.mark.parametrize("vault", ["sqlite", "postgres"], indirect=True)
def test_wrong_passwords_count_down_and_lock_but_the_recovery_key_still_opens(
    vault: InProcessVault, source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo, pw, key_file = _init(capsys, tmp_path, vault, "--recovery-key")
    assert run_cli(capsys, "backup", "--repo", repo, "--password-file", pw, str(source)).code == 0
    guesses = iter(range(100))

    def wrong() -> list[str]:
        """A different wrong password each time (the same one is not sent twice unattended)."""
        n = next(guesses)
        return ["snapshots", "--repo", repo, "--password-file",
                _pw(tmp_path, f"{WRONG} {n}", f"wrong{n}.txt")]  # fmt: skip

    for _ in range(3):
        assert run_cli(capsys, *wrong()).code == 11
    # a correct password before the limit restores the full allowance
    assert run_cli(capsys, "snapshots", "--repo", repo, "--password-file", pw).code == 0
    assert _attempts(vault, "carol") == 10

    for left in range(9, 0, -1):
        r = run_cli(capsys, *wrong())
        plural = "s" if left != 1 else ""
        assert r.code == 11 and r.err.count("\n") == 1
        assert (
            f"wrong password — {left} attempt{plural} left before the password can no longer "
            "open this backup" in r.err
        )
    r = run_cli(capsys, *wrong())
    assert r.code == 11 and "last attempt" in r.err and "recovery-key slot" in r.err

    r = run_cli(capsys, "snapshots", "--repo", repo, "--password-file", pw)  # the right one
    assert r.code == 15 and "locked" in r.err and "can no longer open this backup" in r.err
    assert "recovery-key slot" in r.err
    r = run_cli(
        capsys, "restore", "--repo", repo, "--recovery-key-file", str(key_file), "latest",
        "--target", str(tmp_path / "out"),
    )  # fmt: skip
    assert r.code == 0, r.err
    assert tree_digest(tmp_path / "out" / "chats") == tree_digest(source)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_vault_is_a_clear_error_and_the_repository_is_untouched(
    vault: InProcessVault, source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo, pw, _key = _init(capsys, tmp_path, vault, "--recovery-key")
    assert run_cli(capsys, "backup", "--repo", repo, "--password-file", pw, str(source)).code == 0
    before = tree_digest(Path(repo))
    nowhere = f"http://127.0.0.1:{_closed_port()}"
    r = run_cli(capsys, "snapshots", "--repo", repo, "--password-file", pw, "--vault", nowhere)
    assert r.code == 15 and r.err.count("\n") == 1
    assert "cannot reach the key vault" in r.err and "repository was not changed" in r.err
    assert "also has a recovery-key slot" in r.err
    r = run_cli(capsys, "backup", "--repo", repo, "--password-file", pw, "--vault", nowhere, "x")
    assert r.code == 15
    assert tree_digest(Path(repo)) == before

    # without a recovery-key slot the message says there is no other way in
    other = str(tmp_path / "repo2")
    r = run_cli(
        capsys, "init", "--repo", other, "--vault", vault.url, "--account", "dave", "--password",
        "--no-recovery-key", "--password-file", pw,
    )  # fmt: skip
    assert r.code == 0, r.err
    r = run_cli(capsys, "snapshots", "--repo", other, "--password-file", pw, "--vault", nowhere)
    assert r.code == 15 and "has no recovery-key slot" in r.err

    # init against an unreachable vault writes nothing
    third = tmp_path / "repo3"
    r = run_cli(
        capsys, "init", "--repo", str(third), "--vault", nowhere, "--account", "erin",
        "--password", "--no-recovery-key", "--password-file", pw,
    )  # fmt: skip
    assert r.code == 15 and not (third / "config").exists()


def test_an_impostor_vault_is_refused_before_the_password_is_used(
    vault: InProcessVault, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo, pw, _key = _init(capsys, tmp_path, vault)
    impostor = InProcessVault(tmp_path / "impostor", "sqlite")
    try:
        # a wrong pin given by flag: it is not the key the slot recorded (refused at once)
        r = run_cli(
            capsys, "snapshots", "--repo", repo, "--password-file", pw,
            "--vault-key", impostor.fingerprint,
        )  # fmt: skip
        assert r.code == 2 and "not the one this repository's password slot was made" in r.err
        # the impostor answers at the real vault's address: the slot's pin refuses it
        unlock.register_transport(vault.url, impostor.http._transport)
        r = run_cli(capsys, "snapshots", "--repo", repo, "--password-file", pw)
        assert r.code == 15 and vault.fingerprint in r.err and impostor.fingerprint in r.err
        unlock.register_transport(vault.url, vault.http._transport)
    finally:
        impostor.close()
    assert _attempts(vault, "carol") == 10  # no guess was spent
    assert run_cli(capsys, "snapshots", "--repo", repo, "--password-file", pw).code == 0


def test_weak_passwords_are_refused_with_a_reason(
    vault: InProcessVault, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    for weak in ("password123", "frank2024", "qwertyuiop"):
        r = run_cli(
            capsys, "init", "--repo", str(repo), "--vault", vault.url, "--account", "frank",
            "--password", "--no-recovery-key", "--password-file", _pw(tmp_path, weak, "weak.txt"),
        )  # fmt: skip
        assert r.code == 2 and "password too weak" in r.err and weak not in r.err
        assert not (repo / "config").exists()
    with VaultClient(vault.url, transport=vault.http._transport) as client:
        assert client.attempts_left("frank") == 10  # unknown accounts look fresh; nothing stored
