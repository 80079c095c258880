"""The real client over a real socket: an embedded vault node on 127.0.0.1 and a free port."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from coffer.vault.client import VaultClient
from coffer.vault.embedded import EmbeddedVault
from coffer.vault.errors import WrongPassword
from coffer.vault.protocol import VaultSettings

from .vault_helpers import FAST_KSF, SETTINGS


def test_embedded_vault_over_a_socket_survives_restart(tmp_path: Path) -> None:
    secret = os.urandom(32)
    known = tmp_path / "known_vaults.json"
    with EmbeddedVault(tmp_path / "vault", SETTINGS) as vault:
        assert vault.url.startswith("http://127.0.0.1:")
        client = VaultClient(vault.url, pinned_key=None, known_vaults_path=known)
        assert client.info().fingerprint == vault.fingerprint
        client.register("sam", b"pw", secret, ksf=FAST_KSF)
        with pytest.raises(WrongPassword):
            client.recover("sam", b"nope")
        first_key = vault.public_key
    with EmbeddedVault(tmp_path / "vault", VaultSettings()) as again:
        assert again.public_key == first_key  # same sealed setup, reloaded
        client = VaultClient(again.url, pinned_key=first_key)
        assert client.attempts_left("sam") == 9
        assert client.recover("sam", b"pw") == secret
