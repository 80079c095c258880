"""Freshness on a device with no record of its own (issue 12): the witness — the key vault for a
password repository, a configured one for a recovery key — says what storage must show. And
a witness that is down never blocks a backup or a restore: it is reported."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from engine.cli_support import run_cli
from password.support import PASSWORD, InProcessVault

from coffer.unlock import vault_route

from .support import backup, golden_v1, put_back, refused, snapshot_copy, snapshot_ids

ACCOUNT = "alice@example.net"


class _Down(httpx.BaseTransport):
    """A witness (vault) that cannot be reached."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[InProcessVault]:
    v = InProcessVault(tmp_path / "vault", "sqlite")
    yield v
    v.close()


@pytest.fixture
def devices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    for name in ("COFFER_REPO", "COFFER_RECOVERY_KEY", "COFFER_PASSWORD", "COFFER_STATE_DIR"):
        monkeypatch.delenv(name, raising=False)
    return {"one": tmp_path / "device1", "two": tmp_path / "device2", "tmp": tmp_path}


def _on(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Be this device: its own config folder, known-vaults pins and freshness records."""
    monkeypatch.setenv("COFFER_CONFIG", str(folder / "config.toml"))


def _src(tmp: Path, text: str) -> Path:
    src = tmp / "chats"
    src.mkdir(exist_ok=True)
    (src / "msgstore.txt").write_text(text)
    return src


def _down(vault: InProcessVault) -> None:
    vault_route.register_transport(vault.url, _Down())


def _up(vault: InProcessVault) -> None:
    vault_route.register_transport(vault.url, vault.http._transport)


@pytest.fixture
def password_repo(
    vault: InProcessVault,
    devices: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> list[str]:
    """A password repository made on device one; the flags every device gives."""
    pw = devices["tmp"] / "pw.txt"
    pw.write_text(PASSWORD + "\n")
    repo = devices["tmp"] / "repo"
    flags = ["--repo", str(repo), "--password-file", str(pw)]
    _on(monkeypatch, devices["one"])
    r = run_cli(
        capsys, "init", *flags, "--vault", vault.url, "--account", ACCOUNT,
        "--password", "--no-recovery-key",
    )  # fmt: skip
    assert r.code == 0, r.err
    return flags


@pytest.fixture
def recovery_repo(
    devices: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> list[str]:
    key = devices["tmp"] / "key.txt"
    repo = devices["tmp"] / "repo"
    _on(monkeypatch, devices["one"])
    r = run_cli(capsys, "init", "--repo", str(repo), "--save-recovery-key", str(key))
    assert r.code == 0, r.err
    assert "same-device protection only" in r.err  # said at init: there is no witness
    return ["--repo", str(repo), "--recovery-key-file", str(key)]


def _rollback_after_two_backups(
    flags: list[str], tmp: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[str, str]:
    repo = Path(flags[1])
    first = backup(capsys, *flags, str(_src(tmp, "day one")))
    old = snapshot_copy(repo, tmp / "provider-kept-this")
    second = backup(capsys, *flags, str(_src(tmp, "day two, more messages")))
    put_back(old, repo)
    return first, second


def test_rollback_is_detected_by_a_fresh_device_restoring_with_the_password(
    password_repo: list[str],
    devices: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tmp = devices["tmp"]
    first, _second = _rollback_after_two_backups(password_repo, tmp, capsys)
    _on(monkeypatch, devices["two"])  # the phone is lost: a new one, no record at all
    target = tmp / "restored"
    r = run_cli(capsys, "restore", *password_repo, "latest", "--target", str(target))
    assert refused(r), r.err
    assert "the witness knows of it" in r.err and "rollback, or the newest hidden" in r.err
    assert not target.exists()
    # the user who knows better goes on, and the new device restores what storage has
    r = run_cli(capsys, "restore", *password_repo, "--accept-rollback", "latest",
                "--target", str(target))  # fmt: skip
    assert r.code == 0, r.err
    assert (target / "chats/msgstore.txt").read_text() == "day one"
    assert snapshot_ids(capsys, *password_repo) == [first]
    _on(monkeypatch, devices["one"])  # device one agrees: the forget record names the loss
    assert snapshot_ids(capsys, *password_repo) == [first]


def test_hidden_newest_snapshot_is_detected_by_a_fresh_password_device(
    password_repo: list[str],
    devices: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tmp = devices["tmp"]
    backup(capsys, *password_repo, str(_src(tmp, "day one")))
    newest = backup(capsys, *password_repo, str(_src(tmp, "day two")))
    (Path(password_repo[1]) / "snapshots" / newest).unlink()
    _on(monkeypatch, devices["two"])
    r = run_cli(capsys, "snapshots", *password_repo)
    assert refused(r) and "the witness knows of it" in r.err, r.err


def test_recovery_key_with_a_configured_witness_detects_rollback_and_hiding(
    vault: InProcessVault,
    recovery_repo: list[str],
    devices: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tmp = devices["tmp"]
    backup(capsys, *recovery_repo, str(_src(tmp, "before the witness")))
    r = run_cli(capsys, "witness", "set", *recovery_repo, vault.url)
    assert r.code == 0 and "1 writer(s) reported" in r.out, r.err
    _rollback_after_two_backups(recovery_repo, tmp, capsys)
    _on(monkeypatch, devices["two"])
    r = run_cli(capsys, "restore", *recovery_repo, "latest", "--target", str(tmp / "out"))
    assert refused(r) and "the witness knows of it" in r.err, r.err
    r = run_cli(capsys, "witness", "show", *recovery_repo, "--accept-rollback")
    assert r.code == 0 and vault.url in r.out and "repository setting" in r.out, r.out
    # hiding the newest snapshot, seen by a third device with no record either
    newest = backup(capsys, *recovery_repo, str(_src(tmp, "day three")))
    (Path(recovery_repo[1]) / "snapshots" / newest).unlink()
    _on(monkeypatch, tmp / "device3")
    r = run_cli(capsys, "snapshots", *recovery_repo)
    assert refused(r), r.err


def test_init_with_a_witness_protects_a_new_device_from_the_start(
    vault: InProcessVault,
    devices: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tmp = devices["tmp"]
    key, repo = tmp / "key.txt", tmp / "repo"
    _on(monkeypatch, devices["one"])
    r = run_cli(capsys, "init", "--repo", str(repo), "--save-recovery-key", str(key),
                "--witness", vault.url)  # fmt: skip
    assert r.code == 0 and "same-device protection only" not in r.err, r.err
    flags = ["--repo", str(repo), "--recovery-key-file", str(key)]
    _rollback_after_two_backups(flags, tmp, capsys)
    _on(monkeypatch, devices["two"])
    assert refused(run_cli(capsys, "snapshots", *flags))


def test_without_a_witness_a_fresh_device_is_told_same_device_protection_only(
    recovery_repo: list[str],
    devices: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tmp = devices["tmp"]
    backup(capsys, *recovery_repo, str(_src(tmp, "day one")))
    _on(monkeypatch, devices["two"])
    r = run_cli(capsys, "restore", *recovery_repo, "latest", "--target", str(tmp / "out"))
    assert r.code == 0, r.err
    assert "same-device protection only" in r.err


def test_owner_forget_and_prune_raise_no_alarm_on_a_fresh_device(
    password_repo: list[str],
    devices: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tmp = devices["tmp"]
    ids = [backup(capsys, *password_repo, str(_src(tmp, f"day {n}"))) for n in range(3)]
    r = run_cli(capsys, "forget", *password_repo, "--keep-last", "1", "--prune")
    assert r.code == 0, r.err
    _on(monkeypatch, devices["two"])
    assert snapshot_ids(capsys, *password_repo) == [ids[-1]]
    r = run_cli(capsys, "restore", *password_repo, "latest", "--target", str(tmp / "out"))
    assert r.code == 0, r.err
    assert "could not be verified" not in r.err and "same-device" not in r.err  # the witness
    r = run_cli(capsys, "witness", "show", *password_repo)
    # init --password records its vault as the sealed witness setting (review Q9)
    assert r.code == 0 and "(repository setting)" in r.out and "reachable" in r.out, r.out
    # the check is live after the owner's deletions: the provider's deletion is still caught
    (Path(password_repo[1]) / "snapshots" / ids[-1]).unlink()
    _on(monkeypatch, devices["tmp"] / "device3")
    assert refused(run_cli(capsys, "snapshots", *password_repo))


def test_witness_down_during_backup_warns_and_the_next_command_reports_it(
    vault: InProcessVault,
    password_repo: list[str],
    devices: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tmp = devices["tmp"]
    backup(capsys, *password_repo, str(_src(tmp, "day one")))
    old = snapshot_copy(Path(password_repo[1]), tmp / "provider-kept-this")
    # the vault stays up for unlocking but its witness endpoints fail: recovery keys and
    # remembered keys open without the vault, so model "down" for the witness calls only
    monkeypatch.setattr(
        "coffer.freshness.witness_link.WitnessLink.update", _raise_unavailable, raising=True
    )
    r = run_cli(capsys, "backup", *password_repo, str(_src(tmp, "day two")))
    assert r.code == 0, r.err
    assert "could not be updated" in r.err and "the next command will report it" in r.err
    record = _only_record(devices["one"])
    assert record["witness_pending"] is True
    monkeypatch.undo()
    _on(monkeypatch, devices["one"])
    r = run_cli(capsys, "snapshots", *password_repo)  # retried here
    assert r.code == 0, r.err
    assert _only_record(devices["one"])["witness_pending"] is False
    put_back(old, Path(password_repo[1]))
    _on(monkeypatch, devices["two"])  # so the witness knew the backup made while it was down
    assert refused(run_cli(capsys, "snapshots", *password_repo))


def test_witness_down_during_restore_on_a_new_device_restores_and_says_so(
    vault: InProcessVault,
    devices: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tmp = devices["tmp"]
    key, repo = tmp / "key.txt", tmp / "repo"
    _on(monkeypatch, devices["one"])
    r = run_cli(capsys, "init", "--repo", str(repo), "--save-recovery-key", str(key),
                "--witness", vault.url)  # fmt: skip
    assert r.code == 0, r.err
    flags = ["--repo", str(repo), "--recovery-key-file", str(key)]
    backup(capsys, *flags, str(_src(tmp, "day one")))
    _down(vault)
    try:
        r = run_cli(capsys, "backup", *flags, str(_src(tmp, "day two")))
        assert r.code == 0, r.err
        assert f"the witness at {vault.url} could not be read" in r.err
        assert "could not be updated" in r.err
        _on(monkeypatch, devices["two"])
        target = tmp / "out"
        r = run_cli(capsys, "restore", *flags, "latest", "--target", str(target))
        assert r.code == 0, r.err
        assert (target / "chats/msgstore.txt").read_text() == "day two"
        assert "freshness could not be verified" in r.err and vault.url in r.err
    finally:
        _up(vault)


def test_golden_v1_repository_is_freshness_unknown_and_restores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "golden"
    meta = golden_v1(repo)
    monkeypatch.setenv("COFFER_RECOVERY_KEY", meta["recovery_key"])
    r = run_cli(capsys, "restore", "--repo", str(repo), meta["snapshot"][:8],
                "--target", str(tmp_path / "out"))  # fmt: skip
    assert r.code == 0, r.err
    assert "freshness unknown (format v1)" in r.err


def _raise_unavailable(self: object, writer: str, seq: int, object_id: str) -> None:
    from coffer.freshness.errors import WitnessUnavailable

    raise WitnessUnavailable("witness unreachable: ConnectError")


def _only_record(device: Path) -> dict[str, object]:
    (path,) = (device / "state" / "freshness").glob("*.json")
    doc: dict[str, object] = json.loads(path.read_text())
    return doc


def test_witness_remove_leaves_same_device_protection_only(
    vault: InProcessVault,
    recovery_repo: list[str],
    devices: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tmp = devices["tmp"]
    assert run_cli(capsys, "witness", "set", *recovery_repo, vault.url).code == 0
    backup(capsys, *recovery_repo, str(_src(tmp, "day one")))
    r = run_cli(capsys, "witness", "remove", *recovery_repo)
    assert r.code == 0 and "same-device protection only" in r.out, r.err
    r = run_cli(capsys, "witness", "show", *recovery_repo)
    assert r.code == 0 and "witness: none" in r.out, r.out
    _on(monkeypatch, devices["two"])
    r = run_cli(capsys, "restore", *recovery_repo, "latest", "--target", str(tmp / "out"))
    assert r.code == 0 and "same-device protection only" in r.err, r.err


def test_a_config_put_back_to_before_witness_set_leaves_the_witness_with_devices_that_knew_it(
    vault: InProcessVault,
    recovery_repo: list[str],
    devices: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """docs/threat-model.md: the provider can put back the config from before ``witness set``;
    a device that remembers the witness keeps using it, a new one is told it has none."""
    tmp, repo = devices["tmp"], Path(recovery_repo[1])
    old_config = (repo / "config").read_bytes()
    assert run_cli(capsys, "witness", "set", *recovery_repo, vault.url).code == 0
    first = backup(capsys, *recovery_repo, str(_src(tmp, "day one")))
    kept = snapshot_copy(repo, tmp / "provider-kept-this")
    backup(capsys, *recovery_repo, str(_src(tmp, "day two")))
    put_back(kept, repo)
    (repo / "config").write_bytes(old_config)  # authentic, only older: no witness named
    r = run_cli(capsys, "witness", "show", *recovery_repo)
    assert r.code == 20, r.out  # device one's record still refuses the rollback
    r = run_cli(capsys, "witness", "show", *recovery_repo, "--accept-rollback")
    assert r.code == 0 and vault.url in r.out and "this device's record" in r.out, r.out
    _on(monkeypatch, devices["two"])
    r = run_cli(capsys, "restore", *recovery_repo, "latest", "--target", str(tmp / "out"))
    assert r.code == 0 and "same-device protection only" in r.err, r.err
    assert snapshot_ids(capsys, *recovery_repo) == [first]


def test_a_witness_that_lost_the_record_is_not_a_verification(
    vault: InProcessVault,
    recovery_repo: list[str],
    devices: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """review Q4: the witness's operator deletes (or an old vault database lacks) the rows; a
    new device must be told that freshness could not be verified, not stay silent."""
    import sqlite3

    tmp = devices["tmp"]
    assert run_cli(capsys, "witness", "set", *recovery_repo, vault.url).code == 0
    backup(capsys, *recovery_repo, str(_src(tmp, "day one")))
    backup(capsys, *recovery_repo, str(_src(tmp, "day two")))
    db = sqlite3.connect(tmp / "vault" / "vault.db")
    with db:
        db.execute("DELETE FROM witness_rows")
        db.execute("DELETE FROM witnesses")
    db.close()
    _on(monkeypatch, devices["two"])
    r = run_cli(capsys, "snapshots", *recovery_repo)
    assert r.code == 0, r.err
    assert "freshness could not be verified" in r.err
    assert "has no record of this repository" in r.err
    _on(monkeypatch, devices["one"])
    r = run_cli(capsys, "snapshots", *recovery_repo)
    assert r.code == 0 and "has no record of this repository although this device" in r.err, r.err
