"""Test-only capture of protocol intermediates (RFC 9807 Appendix C checks them).

Rules:

- Off unless a test enters :func:`capture`; production code never does. While off, :func:`note`
  does nothing and keeps no reference to its value.
- Not part of the public surface; the values captured are secrets.

Theory: a :class:`contextvars.ContextVar` holds an optional dict; protocol code calls
``note(name, value)`` at the points where the RFC names an intermediate (randomized_password,
masking_key, auth_key, handshake_secret, server_mac_key, client_mac_key, oprf_key, envelope).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_SINK: ContextVar[dict[str, bytes] | None] = ContextVar("coffer_opaque_trace", default=None)


def note(name: str, value: bytes) -> None:
    """Record ``value`` under ``name`` if a capture is active."""
    sink = _SINK.get()
    if sink is not None:
        sink[name] = value


@contextmanager
def capture() -> Iterator[dict[str, bytes]]:
    """Collect intermediates noted inside the ``with`` block (tests only)."""
    sink: dict[str, bytes] = {}
    token = _SINK.set(sink)
    try:
        yield sink
    finally:
        _SINK.reset(token)
