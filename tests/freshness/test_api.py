"""The Python API checks freshness as the CLI does (the one open path, coffer.unlock)."""

from __future__ import annotations

from pathlib import Path

import pytest

import coffer
from coffer.freshness.guard import FreshnessWarning

from .support import put_back, snapshot_copy


def test_the_api_refuses_a_rolled_back_repository_and_accepts_it_when_told(
    tmp_path: Path,
) -> None:
    src = tmp_path / "chats"
    src.mkdir()
    (src / "msgstore.txt").write_text("day one")
    address = tmp_path / "repo"
    with pytest.warns(FreshnessWarning, match="same-device protection only"):
        made, key = coffer.Repository.init(address)
    made.close()
    assert key is not None
    with coffer.Repository.open(address, recovery_key=key) as repo:
        repo.backup([src])
    old = snapshot_copy(address, tmp_path / "old")
    with coffer.Repository.open(address, recovery_key=key) as repo:
        (src / "msgstore.txt").write_text("day two")
        newest = repo.backup([src]).snapshot_id
    assert newest is not None
    put_back(old, address)
    with pytest.raises(coffer.FreshnessError, match=newest[:8]) as caught:
        coffer.Repository.open(address, recovery_key=key)
    assert caught.value.exit_code == 20
    with pytest.warns(FreshnessWarning, match="accepted what storage shows"):
        repo = coffer.Repository.open(address, recovery_key=key, accept_rollback=True)
    with repo:
        assert len(repo.snapshots()) == 1
    coffer.Repository.open(address, recovery_key=key).close()  # agreed: no alarm any more


def test_backups_through_the_repository_init_returns_are_this_devices(tmp_path: Path) -> None:
    """review Q6: the repository ``init`` returns was not checked or stamped, so its backups
    were unknown to the device record and hiding the newest went unnoticed."""
    src = tmp_path / "chats"
    src.mkdir()
    address = tmp_path / "repo"
    with pytest.warns(FreshnessWarning, match="same-device protection only"):
        repo, key = coffer.Repository.init(address)
    assert key is not None
    with repo:
        for day in ("day one", "day two"):
            (src / "msgstore.txt").write_text(day)
            newest = repo.backup([src]).snapshot_id
    assert newest is not None
    (address / "snapshots" / newest).unlink()  # the provider hides the newest snapshot
    with pytest.raises(coffer.FreshnessError, match=newest[:8]):
        coffer.Repository.open(address, recovery_key=key)


def test_init_names_a_witness_only_by_url(tmp_path: Path) -> None:
    with pytest.raises(coffer.UsageError, match="witness address"):
        coffer.Repository.init(tmp_path / "repo", witness="vault.example")
    assert not (tmp_path / "repo").exists()
