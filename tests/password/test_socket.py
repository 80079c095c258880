"""One real socket: the CLI against the vault served by uvicorn on 127.0.0.1 and a free port."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from coffer.vault.embedded import EmbeddedVault

from .support import PASSWORD, SETTINGS, WRONG, run_cli, tree_digest


def test_password_backup_and_restore_over_a_real_socket(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], isolated_user: Path
) -> None:
    pw, bad = tmp_path / "pw", tmp_path / "bad"
    pw.write_text(PASSWORD)
    bad.write_text(WRONG)
    repo = ["--repo", str(tmp_path / "repo")]
    with EmbeddedVault(tmp_path / "vault", SETTINGS) as vault:
        assert vault.url.startswith("http://127.0.0.1:")
        r = run_cli(
            capsys, "init", *repo, "--vault", vault.url, "--account", "lee", "--password",
            "--no-recovery-key", "--password-file", str(pw), "--json",
        )  # fmt: skip
        assert r.code == 0, r.err
        assert json.loads(r.out)["vault_fingerprint"] == vault.fingerprint
        known = json.loads((isolated_user / "known-vaults.json").read_text())
        assert known[vault.url]["fingerprint"] == vault.fingerprint  # pinned on first use
        assert run_cli(capsys, "backup", *repo, "--password-file", str(pw), str(source)).code == 0
        r = run_cli(capsys, "snapshots", *repo, "--password-file", str(bad))
        assert r.code == 11 and "9 attempts left" in r.err
        target = tmp_path / "out"
        r = run_cli(
            capsys, "restore", *repo, "--password-file", str(pw), "latest", "--target",
            str(target),
        )  # fmt: skip
        assert r.code == 0, r.err
    assert tree_digest(target / "chats") == tree_digest(source)
