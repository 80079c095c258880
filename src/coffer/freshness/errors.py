"""Errors of the witness client.

Exception tree (local misuse raises ``ValueError``/``TypeError`` as usual)::

    CofferError
     └── WitnessError (15)            anything that kept a witness read or update from happening
          ├── WitnessUnavailable      transport failure, timeout, 5xx, 429: try again later
          ├── WitnessRefused          the witness answered with a 4xx it means (bad signature,
          │                           key mismatch, too many writers): retrying will not help
          └── WitnessProtocolError    the witness answered something that breaks the protocol
                                      (malformed body, a row whose signature does not verify)

A witness that fails never blocks access to the owner's data: callers turn these into warnings.
"""

from __future__ import annotations

from typing import Any

from coffer.errors import CofferError


class WitnessError(CofferError):
    """Base of every witness failure. Exit code 15 like a vault failure (the witness usually is
    the key vault) should one ever reach the CLI; normally callers turn it into a warning."""

    exit_code = 15


class WitnessUnavailable(WitnessError):
    """The witness could not be reached or answered 5xx/429; ``retry_after`` if it said so."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class WitnessRefused(WitnessError):
    """The witness refused the request (4xx); ``reason`` is its ``error`` code."""

    def __init__(
        self, message: str, *, reason: str, status: int, body: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status
        self.body: dict[str, Any] = body or {}
        """The witness's JSON error body (``stored_seq``, ``max_writers``, …)."""


class WitnessProtocolError(WitnessError):
    """The witness's answer breaks the protocol: malformed, or a row that does not verify."""
