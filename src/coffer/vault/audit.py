"""Structured logs of the vault, and where the audit trail lives.

Rules: the audit trail of security events (register, attempt, success, failure, lockout,
refused-locked, password-change, delete) is the append-only ``audit`` table the store writes in
the same transaction as the event (see :mod:`coffer.vault.store`), so an attempt can never be
spent without its audit row. This module adds the operational log: one JSON object per line on
the ``coffer.vault`` logger, per request, with method, path, status, duration, client address,
node and error code. Neither ever holds a protocol message, record, password, key or secret —
only the fields listed in :data:`LOG_FIELDS` are emitted.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

LOGGER = logging.getLogger("coffer.vault")
LOG_FIELDS = frozenset(
    {"event", "method", "path", "status", "ms", "client", "node", "error", "account", "detail"}
)


class JsonFormatter(logging.Formatter):
    """Formats records whose ``msg`` is a dict of allowed fields as one JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        base: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
        }
        if isinstance(record.msg, dict):
            base.update({k: v for k, v in record.msg.items() if k in LOG_FIELDS})
        else:
            base["detail"] = record.getMessage()
        return json.dumps(base, sort_keys=True)


def log_event(level: int = logging.INFO, **fields: Any) -> None:
    """Log one structured event; keys outside :data:`LOG_FIELDS` are dropped."""
    if LOGGER.isEnabledFor(level):
        LOGGER.log(level, {k: v for k, v in fields.items() if k in LOG_FIELDS})


def configure_logging(level: int = logging.INFO) -> None:
    """Send the vault's structured log to stderr as JSON lines (used by ``vault serve``)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    LOGGER.handlers[:] = [handler]
    LOGGER.setLevel(level)
    LOGGER.propagate = False


def elapsed_ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000.0, 2)
