"""Fixtures: an isolated user (config folder, environment), a real vault in process, a source."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .support import InProcessVault, make_source

_ENV = (
    "COFFER_REPO",
    "COFFER_RECOVERY_KEY",
    "COFFER_PASSWORD",
    "COFFER_NEW_PASSWORD",
    "COFFER_VAULT",
    "COFFER_ACCOUNT",
    "COFFER_VAULT_KEY",
    "COFFER_REMEMBER_BACKEND",
    "XDG_CONFIG_HOME",
)


@pytest.fixture(autouse=True)
def isolated_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh "device": its own config folder, no Coffer variables inherited."""
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "device1" / "config.toml"
    monkeypatch.setenv("COFFER_CONFIG", str(config))
    # keyring backends that keep files (keyrings.alt) write under XDG_DATA_HOME: keep it here
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "device1" / "data"))
    return config.parent


@pytest.fixture(params=["sqlite"])
def vault(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[InProcessVault]:
    v = InProcessVault(tmp_path / "vault", request.param)
    yield v
    v.close()


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return make_source(tmp_path / "chats")
