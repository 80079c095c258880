"""Measure what OPAQUE costs on this machine: client login per KSF profile, server KE2 and KE3.

Usage: .venv/bin/python bench/opaque_cost.py [--quick]

Client login = client_login_start + client_login_finish (the KSF runs once, inside finish).
Server KE2 = server_login_start with a real record and with record=None (fake record);
server KE3 = server_login_finish, with and without restoring the state from bytes (the vault
keeps the state as bytes between the two requests). Medians over N runs; one thread.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable

from coffer.opaque import (
    KSF_MOBILE,
    KSF_OPAQUE_KE_DEFAULT,
    KSF_RFC_RECOMMENDED,
    Config,
    IdentityKSF,
    ServerLoginState,
    ServerSetup,
    client_login_finish,
    client_login_start,
    client_registration_finish,
    client_registration_start,
    server_login_finish,
    server_login_start,
    server_registration_finish,
    server_registration_response,
)
from coffer.opaque.ksf import KSF

PASSWORD = b"correct horse battery staple"
IDENT = b"alice"
CONTEXT = b"coffer-vault/v1"


def _median(samples: list[float]) -> float:
    return statistics.median(samples)


def _timed(fn: Callable[[], object], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def _register(setup: ServerSetup, config: Config) -> bytes:
    state, request = client_registration_start(PASSWORD)
    response = server_registration_response(setup, request, IDENT)
    record, _ = client_registration_finish(state, response, config)
    return server_registration_finish(record)


def client_login_ms(setup: ServerSetup, ksf: KSF, runs: int) -> list[float]:
    config = Config(context=CONTEXT, ksf=ksf)
    record = _register(setup, config)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        cstate, ke1 = client_login_start(PASSWORD)
        client_side = time.perf_counter() - start
        sstate, ke2 = server_login_start(setup, record, ke1, IDENT, config)
        start = time.perf_counter()
        ke3, _, _ = client_login_finish(cstate, ke2, config)
        samples.append((client_side + time.perf_counter() - start) * 1e3)
        server_login_finish(sstate, ke3)
    return samples


def server_us(setup: ServerSetup, runs: int) -> dict[str, list[float]]:
    config = Config(context=CONTEXT, ksf=IdentityKSF())
    record = _register(setup, config)
    _, ke1 = client_login_start(PASSWORD)
    real = _timed(lambda: server_login_start(setup, record, ke1, IDENT, config), runs)
    fake = _timed(lambda: server_login_start(setup, None, ke1, b"nobody", config), runs)
    ke3_plain, ke3_bytes = [], []
    for _ in range(runs):
        cstate, ke1 = client_login_start(PASSWORD)
        sstate, ke2 = server_login_start(setup, record, ke1, IDENT, config)
        ke3, _, _ = client_login_finish(cstate, ke2, config)
        blob = sstate.to_bytes()
        start = time.perf_counter()
        server_login_finish(sstate, ke3)
        ke3_plain.append(time.perf_counter() - start)
        start = time.perf_counter()
        server_login_finish(ServerLoginState.from_bytes(blob), ke3)
        ke3_bytes.append(time.perf_counter() - start)
    return {
        "KE2 (real record)": [s * 1e6 for s in real],
        "KE2 (fake record, unknown account)": [s * 1e6 for s in fake],
        "KE3 (state object)": [s * 1e6 for s in ke3_plain],
        "KE3 (state from bytes)": [s * 1e6 for s in ke3_bytes],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs, skip the 2 GiB profile")
    args = parser.parse_args()
    setup = ServerSetup.generate()
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}"
    )
    print("\n| KSF profile | client login, ms (median) | min | runs |")
    print("|---|---|---|---|")
    profiles: list[tuple[str, KSF, int]] = [
        ("IdentityKSF (vectors only)", IdentityKSF(), 50),
        ("KSF_OPAQUE_KE_DEFAULT", KSF_OPAQUE_KE_DEFAULT, 20),
        ("KSF_MOBILE", KSF_MOBILE, 10),
    ]
    if not args.quick:
        profiles.append(("KSF_RFC_RECOMMENDED", KSF_RFC_RECOMMENDED, 3))
    for name, ksf, runs in profiles:
        runs = max(2, runs // 4) if args.quick else runs
        samples = client_login_ms(setup, ksf, runs)
        print(
            f"| {name}: {ksf.describe()} | {_median(samples):.1f} | {min(samples):.1f} | {runs} |"
        )
    runs = 200 if args.quick else 1000
    print("\n| server step | µs (median) | min | runs |")
    print("|---|---|---|---|")
    for name, samples in server_us(setup, runs).items():
        print(f"| {name} | {_median(samples):.0f} | {min(samples):.0f} | {runs} |")


if __name__ == "__main__":
    main()
