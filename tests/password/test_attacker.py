"""The attacker who holds every repository object and a copy of the vault's database, but not
the vault's seal key, tries every stored byte string against every key slot — and opens none.

Candidates are every stored value and every 32-byte window of every stored object: repository
files (config, key slots, packs, index, snapshots) and the vault database (the SQLite file and
its WAL, or every column of every PostgreSQL row). Each candidate is tried (1) as the secret of
every key slot, (2) as an OPAQUE export key opening an escrowed secret, (3) as the seal key of
the vault's server setup. Controls show that the harness would notice: the real V and R open
their slots, and the real seal key opens the setup.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from coffer.backends.base import ObjectType
from coffer.backends.local import LocalBackend
from coffer.crypto.recovery import RecoveryKey
from coffer.crypto.slots import SlotKind, open_slot, read_slot_info
from coffer.engine.repository import read_config_header
from coffer.errors import WrongKey
from coffer.vault import _crypto
from coffer.vault.client import VaultClient
from coffer.vault.seal import MAGIC_KEYFILE, SETUP_AD
from coffer.vault.server import META_SETUP
from coffer.vault.store_postgres import PostgresStore

from .support import NEW_PASSWORD, PASSWORD, PG_DSN, WRONG, InProcessVault, run_cli

WINDOW = 32


def _windows(blob: bytes) -> set[bytes]:
    out = {blob[i : i + WINDOW] for i in range(max(len(blob) - WINDOW + 1, 0))}
    out.add(blob)
    return out


def _repository_blobs(repo: Path) -> list[bytes]:
    return [p.read_bytes() for p in sorted(repo.rglob("*")) if p.is_file()]


def _vault_blobs(vault: InProcessVault) -> list[bytes]:
    if isinstance(vault.store, PostgresStore):
        assert PG_DSN is not None
        blobs: list[bytes] = []
        with psycopg.connect(PG_DSN) as conn:
            for table in ("meta", "accounts", "pending", "audit"):
                rows = conn.execute(f'SELECT * FROM "{vault.store.schema}".{table}').fetchall()
                for row in rows:
                    blobs += [v if isinstance(v, bytes) else str(v).encode() for v in row]
        return blobs
    files = [vault.folder / n for n in ("vault.db", "vault.db-wal", "vault.db-shm")]
    return [f.read_bytes() for f in files if f.exists()]


def _escrowed(vault: InProcessVault, account: str) -> bytes:
    row = vault.store.raw_account(account)
    assert row is not None and row["secret"]
    return bytes(row["secret"])


@pytest.mark.parametrize("vault", ["sqlite", "postgres"], indirect=True)
def test_no_stored_secret_opens_any_slot(
    vault: InProcessVault, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "chats"
    src.mkdir()
    (src / "msgstore.txt").write_text("meet at noon\n" * 50)
    repo_dir = tmp_path / "repo"
    pw, new_pw, bad = (tmp_path / n for n in ("pw", "new", "bad"))
    pw.write_text(PASSWORD)
    new_pw.write_text(NEW_PASSWORD)
    bad.write_text(WRONG)
    key_file = tmp_path / "recovery.txt"
    repo = ["--repo", str(repo_dir)]
    r = run_cli(
        capsys, "init", *repo, "--vault", vault.url, "--account", "kim", "--password",
        "--recovery-key", "--password-file", str(pw), "--save-recovery-key", str(key_file),
    )  # fmt: skip
    assert r.code == 0, r.err
    assert run_cli(capsys, "backup", *repo, "--password-file", str(pw), str(src)).code == 0
    change = ["password", "change", *repo, "--password-file", str(pw)]
    assert run_cli(capsys, *change, "--new-password-file", str(new_pw)).code == 0
    assert run_cli(capsys, "snapshots", *repo, "--password-file", str(bad)).code == 11

    backend = LocalBackend(repo_dir)
    repo_id = read_config_header(backend)[0][5:]
    slots = [
        (name, backend.load(ObjectType.KEYS, name)) for name, _ in backend.list(ObjectType.KEYS)
    ]
    assert {read_slot_info(n, d).kind for n, d in slots} == {SlotKind.RECOVERY, SlotKind.VAULT}
    escrowed = _escrowed(vault, "kim")
    sealed_setup = vault.store.get_meta(META_SETUP)
    assert sealed_setup is not None and sealed_setup.startswith(MAGIC_KEYFILE)
    setup_body = sealed_setup[len(MAGIC_KEYFILE) :]

    stored = _repository_blobs(repo_dir) + _vault_blobs(vault)
    candidates: set[bytes] = set()
    for blob in stored:
        candidates |= _windows(blob)
    candidates = {c for c in candidates if len(c) == WINDOW}
    assert len(candidates) > 1000
    print(f"attacker candidates: {len(candidates)} from {len(stored)} stored values")

    # controls: the real secrets open their slots, and are not stored anywhere in clear
    with VaultClient(vault.url, transport=vault.http._transport) as client:
        v = client.recover("kim", NEW_PASSWORD.encode())
    r_secret = RecoveryKey.parse(key_file.read_text()).secret
    opened = set()
    for name, data in slots:
        for secret in (v, r_secret):
            try:
                open_slot(name, data, secret, repo_id)
                opened.add(name)
            except WrongKey:
                pass
    assert opened == {name for name, _ in slots}
    assert v not in candidates and r_secret not in candidates
    seal_key = (vault.folder / "seal.key").read_bytes()
    assert seal_key not in candidates
    assert _crypto.open_sealed(seal_key, setup_body, SETUP_AD)

    escrow_ad = _crypto.LABEL_ESCROW + b"/kim"
    for cand in candidates:
        for name, data in slots:
            with pytest.raises(WrongKey):
                open_slot(name, data, cand, repo_id)
        with pytest.raises(_crypto.OpenFailed):
            _crypto.open_sealed(_crypto.derive(cand, _crypto.LABEL_ESCROW), escrowed, escrow_ad)
        with pytest.raises(_crypto.OpenFailed):
            _crypto.open_sealed(cand, setup_body, SETUP_AD)
