"""Trust on first use for vault public keys: the known-vaults file.

Rules: a JSON object ``{url: {"public_key": base64url, "fingerprint": str}}`` in a file of mode
0600, rewritten atomically (temp file, fsync, rename). The first key seen for a URL is recorded;
a different key later is :class:`VaultKeyMismatch` with both fingerprints — never silently
replaced. Removing the entry is the user's explicit decision.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from coffer.vault import _crypto, wire
from coffer.vault.errors import VaultKeyMismatch


class KnownVaults:
    """The trust-on-first-use file: ``{url: {"public_key": b64, "fingerprint": str}}``, 0600."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise VaultKeyMismatch(f"known-vaults file {self.path} unreadable: {exc}") from None
        return data if isinstance(data, dict) else {}

    def check_or_add(self, url: str, key: bytes) -> None:
        data = self.load()
        entry = data.get(url)
        if isinstance(entry, dict) and "public_key" in entry:
            if entry["public_key"] != wire.b64e(key):
                raise VaultKeyMismatch(
                    f"vault {url} now presents key {_crypto.fingerprint(key)}, but "
                    f"{self.path} pins {entry.get('fingerprint')}: refusing (remove the entry only "
                    "if the vault operator confirms a key change)"
                )
            return
        data[url] = {"public_key": wire.b64e(key), "fingerprint": _crypto.fingerprint(key)}
        self._write(data)

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + f".tmp{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
