"""A password-protected repository on a schedule: ``install`` asks for the password once and
remembers V; the scheduled run then needs neither the password nor the vault."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine.cli_support import run_cli
from password.support import PASSWORD, InProcessVault

from coffer.schedule import spec
from coffer.schedule.run import RunSettings, run_job
from coffer.vault.client import VaultClient

from .conftest import Home


def test_the_scheduled_run_uses_the_remembered_key_not_the_password(
    home: Home, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    vault = InProcessVault(tmp_path / "vault", "sqlite")
    repo, pw = tmp_path / "pw-repo", tmp_path / "pw.txt"
    pw.write_text(PASSWORD + "\n")
    try:
        r = run_cli(capsys, "init", "--repo", str(repo), "--vault", vault.url, "--account", "sol",
                    "--password", "--no-recovery-key", "--password-file", str(pw))  # fmt: skip
        assert r.code == 0, r.err
        r = run_cli(capsys, "schedule", "install", "--repo", str(repo), "--password-file", str(pw),
                    "--mode", "systemd", "--no-enable", str(home.source))  # fmt: skip
        assert r.code == 0, r.err
        with VaultClient(vault.url, transport=vault.http._transport) as client:
            assert client.attempts_left("sol") == 10
    finally:
        vault.close()  # from here on the vault cannot be reached at all
    for unit in home.units.iterdir():
        assert PASSWORD not in unit.read_text() and str(pw) not in unit.read_text()
    assert PASSWORD not in spec.job_path("default").read_text()
    said: list[str] = []
    assert run_job(spec.load("default"), RunSettings(), said.append) == 0, said
    assert "ok — snapshot" in said[-1]
