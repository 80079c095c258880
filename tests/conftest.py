"""Project-wide test isolation: no test writes caches or config into the real home folder."""

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
    yield
    mp.undo()
