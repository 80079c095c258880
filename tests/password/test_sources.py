"""Where secrets come from (issue 17 items 5 and 8): restic's ``--password-command``,
``--recovery-key-command`` and ``--repository-file``, and the library interface
(:mod:`coffer.unlock`) driven without click."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from coffer.backends.local import LocalBackend
from coffer.crypto.slots import SlotKind
from coffer.unlock import (
    NO_PROMPTER,
    NoSecret,
    PasswordRejected,
    StaticSecrets,
    VaultTarget,
    open_repository,
)

from .support import PASSWORD, WRONG, InProcessVault, run_cli


def _init_both(capsys, tmp: Path, vault: InProcessVault) -> tuple[str, Path, Path]:
    repo, pw, key = str(tmp / "repo"), tmp / "pw.txt", tmp / "recovery.txt"
    pw.write_text(PASSWORD + "\n")
    r = run_cli(
        capsys, "init", "--repo", repo, "--vault", vault.url, "--account", "lena", "--password",
        "--recovery-key", "--password-file", str(pw), "--save-recovery-key", str(key),
    )  # fmt: skip
    assert r.code == 0, r.err
    return repo, pw, key


def _printer(tmp: Path, name: str, text: str, code: int = 0) -> str:
    """A command that prints ``text`` (and exits with ``code``), like `pass show NAME`."""
    script = tmp / f"{name}.py"
    script.write_text(f"import sys\nsys.stdout.write({text!r})\nsys.exit({code})\n")
    return f"{sys.executable} {script}"


def test_password_and_recovery_key_commands(
    vault: InProcessVault, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo, _pw, key = _init_both(capsys, tmp_path, vault)
    good = _printer(tmp_path, "good", PASSWORD + "\n")
    r = run_cli(capsys, "snapshots", "--repo", repo, "--password-command", good, "--json")
    assert r.code == 0 and json.loads(r.out) == [], r.err
    key_cmd = _printer(tmp_path, "key", key.read_text())
    r = run_cli(capsys, "snapshots", "--repo", repo, "--recovery-key-command", key_cmd)
    assert r.code == 0, r.err

    failing = _printer(tmp_path, "fails", "", code=3)
    r = run_cli(capsys, "snapshots", "--repo", repo, "--password-command", failing)
    assert r.code == 2 and r.err == "coffer: error: --password-command exited with code 3\n"
    silent = _printer(tmp_path, "silent", "")
    r = run_cli(capsys, "snapshots", "--repo", repo, "--password-command", silent)
    assert r.code == 2 and "printed nothing" in r.err
    r = run_cli(capsys, "snapshots", "--repo", repo, "--password-command", "/nonexistent/pw")
    assert r.code == 2 and "cannot run --password-command" in r.err
    r = run_cli(
        capsys, "snapshots", "--repo", repo, "--password-command", good, "--password-file",
        str(tmp_path / "pw.txt"),
    )  # fmt: skip
    assert r.code == 2 and "mutually exclusive" in r.err


def test_password_command_from_the_environment_beats_coffer_password(
    vault: InProcessVault,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo, _pw, _key = _init_both(capsys, tmp_path, vault)
    monkeypatch.setenv("COFFER_PASSWORD", WRONG)
    monkeypatch.setenv("COFFER_PASSWORD_COMMAND", _printer(tmp_path, "good", PASSWORD))
    r = run_cli(capsys, "snapshots", "--repo", repo)
    assert r.code == 0, r.err


def test_repository_file(
    vault: InProcessVault,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo, pw, _key = _init_both(capsys, tmp_path, vault)
    address = tmp_path / "repository.txt"
    address.write_text(repo + "\n")
    base = ["--password-file", str(pw)]
    r = run_cli(capsys, "snapshots", "--repository-file", str(address), *base)
    assert r.code == 0, r.err
    monkeypatch.setenv("COFFER_REPOSITORY_FILE", str(address))
    assert run_cli(capsys, "snapshots", *base).code == 0
    r = run_cli(capsys, "snapshots", "--repo", repo, "--repository-file", str(address), *base)
    assert r.code == 2 and "mutually exclusive" in r.err
    r = run_cli(capsys, "snapshots", "--repository-file", str(tmp_path / "missing"), *base)
    assert r.code == 2 and "cannot read" in r.err
    monkeypatch.delenv("COFFER_REPOSITORY_FILE")
    r = run_cli(capsys, "snapshots", *base)
    assert r.code == 2 and "--repository-file" in r.err


class ScriptedPrompter:
    """A GUI's prompter in miniature: answers from a list and keeps the notices it gets."""

    def __init__(self, passwords: list[bytes | None]) -> None:
        self.passwords = passwords
        self.notices: list[str] = []

    def can_ask(self) -> bool:
        return True

    def ask_password(self, recovery_fallback: bool) -> bytes | None:
        return self.passwords.pop(0)

    def ask_recovery_key(self) -> str:
        raise AssertionError("not expected")

    def tell(self, message: str) -> None:
        self.notices.append(message)


def test_the_library_unlocks_without_click(
    vault: InProcessVault, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo, _pw, key = _init_both(capsys, tmp_path, vault)
    backend, target = LocalBackend(repo), VaultTarget()
    opened = open_repository(backend, StaticSecrets(password_text=PASSWORD), NO_PROMPTER, target)
    assert opened.kind == SlotKind.VAULT and opened.remembered_in is None
    by_key = StaticSecrets(recovery_key_text=key.read_text())
    assert open_repository(backend, by_key, NO_PROMPTER, target).kind == SlotKind.RECOVERY
    with pytest.raises(NoSecret):
        open_repository(backend, StaticSecrets(), NO_PROMPTER, target)
    with pytest.raises(PasswordRejected) as rejected:
        open_repository(backend, StaticSecrets(password_text=WRONG), NO_PROMPTER, target)
    assert rejected.value.attempts_left == 9 and WRONG not in str(rejected.value)
    typed = ScriptedPrompter([PASSWORD.encode()])
    assert open_repository(backend, StaticSecrets(), typed, target).kind == SlotKind.VAULT
    assert repr(StaticSecrets(password_text=PASSWORD)).count(PASSWORD) == 0


def test_importing_the_unlock_package_needs_neither_click_nor_the_vault_client() -> None:
    code = (
        "import sys, coffer.unlock, coffer.unlock.flow; "
        "print(sorted(m for m in ('click', 'httpx') if m in sys.modules))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("COFFER_")}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
