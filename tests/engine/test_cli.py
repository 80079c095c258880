"""The ``coffer`` CLI in-process: commands, JSON output, exit codes and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .cli_support import run_cli, summary_line
from .conftest import make_tree


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    repo = tmp_path / "repo"
    keyfile = tmp_path / "key.txt"
    monkeypatch.setenv("COFFER_REPO", str(repo))
    monkeypatch.delenv("COFFER_RECOVERY_KEY", raising=False)
    return {"repo": repo, "key": keyfile, "src": make_tree(tmp_path / "src"), "tmp": tmp_path}


def test_init_backup_snapshots_ls_restore_check(
    env: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    r = run_cli(capsys, "init", "--save-recovery-key", str(env["key"]))
    assert r.code == 0 and "recovery key" in r.out.lower()
    key_text = env["key"].read_text().strip()
    assert len(key_text.replace(" ", "")) == 64 and key_text in r.out
    assert (env["key"].stat().st_mode & 0o777) == 0o600
    kf = ["--recovery-key-file", str(env["key"])]
    r = run_cli(capsys, "backup", *kf, "--json", str(env["src"]))
    assert r.code == 0, r.err
    summary = r.summary()
    assert summary["files_new"] == 5 and summary["skipped"] == []
    assert summary["sources"][0]["bytes_new"] > 0
    r = run_cli(capsys, "snapshots", *kf, "--json")
    snaps = json.loads(r.out)
    assert [s["id"] for s in snaps] == [summary["snapshot"]]
    r = run_cli(capsys, "ls", *kf, "--json", "latest", "src/media")
    paths = [e["path"] for e in json.loads(r.out)]
    assert "src/media/voice/a.opus" in paths and "src/notes.txt" not in paths
    target = env["tmp"] / "out"
    r = run_cli(capsys, "restore", *kf, summary["snapshot"][:8], "--target", str(target))
    assert r.code == 0, r.err
    assert (target / "src/notes.txt").read_text() == (env["src"] / "notes.txt").read_text()
    r = run_cli(capsys, "check", *kf, "--read-data", "--json")
    report = r.summary()
    assert r.code == 0 and report["ok"] and report["packs_read"] >= 1


def test_errors_are_one_line_with_documented_exit_codes(
    env: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    r = run_cli(capsys, "snapshots", "--repo", str(env["tmp"] / "nowhere"))
    assert r.code == 10 and r.err.count("\n") == 1 and "no Coffer repository" in r.err
    assert run_cli(capsys, "init", "--save-recovery-key", str(env["key"])).code == 0
    assert run_cli(capsys, "init").code == 2  # already exists: the address is the wrong argument
    from coffer.crypto.recovery import RecoveryKey

    monkeypatch.setenv("COFFER_RECOVERY_KEY", RecoveryKey.generate().display())
    r = run_cli(capsys, "snapshots")
    assert r.code == 11 and "does not open" in r.err and "Traceback" not in r.err
    monkeypatch.setenv("COFFER_RECOVERY_KEY", env["key"].read_text())
    r = run_cli(capsys, "restore", "deadbeef", "--target", str(env["tmp"] / "o"))
    assert r.code == 2 and "no snapshot" in r.err
    r = run_cli(capsys, "backup", "--bogus-flag", str(env["src"]))
    assert r.code == 2


def test_typo_in_recovery_key_is_caught_before_any_storage_access(
    env: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_cli(capsys, "init", "--save-recovery-key", str(env["key"])).code == 0
    text = env["key"].read_text().strip()
    typo = ("X" if text[5] != "X" else "Y").join([text[:5], text[6:]])
    monkeypatch.setenv("COFFER_RECOVERY_KEY", typo)
    # the repository address does not even exist: a storage access would say "no repository"
    r = run_cli(capsys, "snapshots", "--repo", str(env["tmp"] / "does-not-exist"))
    assert r.code == 11 and "typo" in r.err.lower()


def test_unreadable_file_is_skipped_with_a_warning_and_partial_exit(
    env: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    import os
    import shutil
    import subprocess
    import sys

    assert run_cli(capsys, "init", "--save-recovery-key", str(env["key"])).code == 0
    secret = env["src"] / "secret.txt"
    secret.write_text("nobody may read this")
    secret.chmod(0)
    cmd = [sys.executable, "-m", "coffer", "backup", "--json", str(env["src"])]
    if os.geteuid() == 0:  # root reads anything: drop the capabilities that let it
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: cannot make a file unreadable")
        drop = "-dac_override,-dac_read_search"
        cmd = ["setpriv", f"--bounding-set={drop}", f"--inh-caps={drop}", "--", *cmd]
    proc = subprocess.run(
        cmd,
        env={**os.environ, "COFFER_RECOVERY_KEY": env["key"].read_text()},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 3, proc.stderr
    assert "secret.txt" in proc.stderr and "Traceback" not in proc.stderr
    summary = summary_line(proc.stdout)
    assert [s["path"] for s in summary["skipped"]] == [str(secret)]
    assert "ermission denied" in summary["skipped"][0]["error"]
    assert summary["files_new"] == 5  # everything else was stored


def test_bandwidth_limit_flags_wrap_the_backend(env: dict[str, Path]) -> None:
    from coffer.backends.limits import LimitedBackend
    from coffer.cli.context import Options, backend_for

    opts = Options(str(env["repo"]), None, False, True)
    opts.limit_upload, opts.limit_download = 512.0, 2048.0
    backend = backend_for(opts)
    assert isinstance(backend, LimitedBackend)
    assert not isinstance(backend_for(Options(str(env["repo"]), None, False, True)), LimitedBackend)


def test_init_refuses_an_existing_key_file_before_creating_anything(
    env: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    env["key"].write_text("something the user keeps\n")
    r = run_cli(capsys, "init", "--save-recovery-key", str(env["key"]))
    assert r.code == 2 and "already exists" in r.err
    assert not env["repo"].exists()
    assert env["key"].read_text() == "something the user keeps\n"
