"""Not a test: the cost of one password unlock with the default (mobile) KSF profile.

Run ``.venv/bin/python tests/password/measure_unlock.py``. It starts an embedded vault on
loopback with the default settings, escrows V for one account, and times (a) the client's KSF
alone and (b) a whole unlock — ``info`` + KE1→KE2 + KE3→V over HTTP, and opening the key slot —
counting HTTP round trips with a counting transport.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from coffer.backends.local import LocalBackend
from coffer.crypto.slots import SlotKind
from coffer.engine.repository import Repository, list_slots
from coffer.opaque import KSF_MOBILE
from coffer.unlock import VaultTarget
from coffer.unlock import vault_route as unlock
from coffer.vault.embedded import EmbeddedVault

RUNS = 10
PASSWORD = b"lantern orbit meadow quietly 1979"


class Counting(httpx.HTTPTransport):
    requests = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        Counting.requests += 1
        return super().handle_request(request)


def _stats(label: str, values: list[float]) -> None:
    ms = sorted(v * 1000 for v in values)
    print(f"{label}: median {statistics.median(ms):.0f} ms, min {ms[0]:.0f} ms, runs {len(ms)}")


def main() -> None:
    ksf = []
    for _ in range(RUNS):
        t = time.perf_counter()
        KSF_MOBILE.stretch(b"\x00" * 64)
        ksf.append(time.perf_counter() - t)
    _stats(f"client KSF {KSF_MOBILE.describe()}", ksf)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["COFFER_CONFIG"] = f"{tmp}/cfg/config.toml"
        with EmbeddedVault(Path(tmp) / "vault") as vault:  # default settings: mobile KSF
            unlock.register_transport(vault.url, Counting())
            target = VaultTarget(vault.url, "measure", None)
            secret, meta = unlock.escrow_new_secret(target, PASSWORD)
            repo = Repository.init(LocalBackend(Path(tmp) / "repo"))
            repo.add_slot(SlotKind.VAULT, secret, meta)
            backend = LocalBackend(Path(tmp) / "repo")
            times, trips = [], set()
            for _ in range(RUNS):
                Counting.requests = 0
                t = time.perf_counter()
                unlock.open_with_password(backend, list_slots(backend), target, PASSWORD)
                times.append(time.perf_counter() - t)
                trips.add(Counting.requests)
            _stats("password unlock (client KSF + HTTP + slot)", times)
            print(f"HTTP round trips per unlock: {sorted(trips)}")


if __name__ == "__main__":
    main()
