"""Project-wide test set-up: no test writes into the real home folder; fast vault KSFs allowed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_cache_and_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    root = tmp_path_factory.mktemp("xdg")
    mp = pytest.MonkeyPatch()
    for var in ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        path = Path(root) / var.lower()
        path.mkdir()
        mp.setenv(var, str(path))
    # the tests' vaults use a 64 KiB Argon2id so that they run fast; the client's default floor
    # (19 MiB, 2 passes) is itself tested with an explicit min_ksf in tests/vault/test_flows.py
    mp.setenv("COFFER_VAULT_MIN_KSF", "8,1")
    yield
    mp.undo()


@pytest.fixture(autouse=True)
def _private_state(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each test is a device of its own: device state (freshness records, failed passwords)
    from one test never reaches another (the golden repositories share their IDs)."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))
