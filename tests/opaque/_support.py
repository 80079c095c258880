"""Shared helpers for the OPAQUE tests: scripted RNGs, vector loading, quick configs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from coffer.opaque import (
    Config,
    IdentityKSF,
    ServerSetup,
    client_login_finish,
    client_login_start,
    client_registration_finish,
    client_registration_start,
    server_login_start,
    server_registration_finish,
    server_registration_response,
)

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
QUICK = Config(context=b"coffer-test", ksf=IdentityKSF())


def load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text())


def scripted(*chunks: bytes) -> Callable[[int], bytes]:
    """An RNG that hands out ``chunks`` in order and checks each requested length."""
    queue = list(chunks)

    def rng(n: int) -> bytes:
        assert queue, "scripted RNG exhausted"
        chunk = queue.pop(0)
        assert len(chunk) == n, f"asked for {n} bytes, script has {len(chunk)}"
        return chunk

    rng.remaining = queue  # type: ignore[attr-defined]
    return rng


def register(
    setup: ServerSetup, password: bytes, ident: bytes = b"alice", config: Config = QUICK
) -> tuple[bytes, bytes]:
    """Full registration in memory: ``(record, export_key)``."""
    state, request = client_registration_start(password)
    response = server_registration_response(setup, request, ident)
    record, export_key = client_registration_finish(state, response, config)
    return server_registration_finish(record), export_key


def login_to_ke2(
    setup: ServerSetup,
    record: bytes | None,
    password: bytes,
    ident: bytes = b"alice",
    server_config: Config = QUICK,
):
    """Run KE1 -> KE2; returns ``(client_state, server_state, ke2)``."""
    cstate, ke1 = client_login_start(password)
    sstate, ke2 = server_login_start(setup, record, ke1, ident, server_config)
    return cstate, sstate, ke2


def login(setup: ServerSetup, record: bytes | None, password: bytes, config: Config = QUICK):
    """A whole login; returns ``(ke3, client session key, export key, server state)``."""
    cstate, sstate, ke2 = login_to_ke2(setup, record, password)
    ke3, session_key, export_key = client_login_finish(cstate, ke2, config)
    return ke3, session_key, export_key, sstate
