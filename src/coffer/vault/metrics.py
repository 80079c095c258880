"""Prometheus metrics of a vault node (``prometheus-client``), served on a port of their own.

Rules: metrics carry counts and timings only — endpoint paths, status codes and event names,
never an account name, client address or anything derived from a request body (labels with
unbounded values would also let a client blow up the metrics store). Security events are
counted where the store writes their audit rows (:meth:`Metrics.audit_event`), so the figures
match the audit log. With ``--workers N`` each worker writes its figures to a shared
directory (prometheus-client's multiprocess mode, ``PROMETHEUS_MULTIPROC_DIR``) and the
metrics server adds them up.

Metrics: ``coffer_vault_requests_total{endpoint,status}``,
``coffer_vault_request_seconds{endpoint}`` (histogram), ``coffer_vault_logins_total{outcome}``
(ok / failed), ``coffer_vault_lockouts_total``, ``coffer_vault_attempts_spent_total``,
``coffer_vault_events_total{event}`` (every audit event), ``coffer_vault_connections_refused_total``
``{reason}`` (connection caps, slow connections evicted for a newcomer, read timeouts).
"""

from __future__ import annotations

import os
import threading
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
_KNOWN_EVENTS = frozenset(
    {
        "register",
        "attempt",
        "success",
        "failure",
        "lockout",
        "refused-locked",
        "password-change",
        "grant-refused",
        "delete",
        "operator-delete",
        "settings",
        "ghosts-swept",
        "audit-pruned",
        "seal-rotated",
    }
)


class Metrics:
    """The node's counters; one instance per process (:data:`METRICS`)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        kw: dict[str, Any] = {"registry": registry} if registry is not None else {}
        self.requests = Counter(
            "coffer_vault_requests", "HTTP requests", ["endpoint", "status"], **kw
        )
        self.latency = Histogram(
            "coffer_vault_request_seconds", "Request latency", ["endpoint"], buckets=_BUCKETS, **kw
        )
        self.logins = Counter("coffer_vault_logins", "Completed logins", ["outcome"], **kw)
        self.lockouts = Counter("coffer_vault_lockouts", "Accounts locked", **kw)
        self.attempts = Counter("coffer_vault_attempts_spent", "Attempts spent (KE2s)", **kw)
        self.events = Counter("coffer_vault_events", "Audit events", ["event"], **kw)
        self.refused = Counter(
            "coffer_vault_connections_refused", "Connections refused or cut", ["reason"], **kw
        )

        self._children: dict[tuple[str, ...], Any] = {}  # labels() is a lock + lookup each time

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (metric._name, *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def request(self, endpoint: str, status: int, seconds: float) -> None:
        self._child(self.requests, endpoint, str(status)).inc()
        self._child(self.latency, endpoint).observe(seconds)

    def audit_event(self, event: str) -> None:
        """Called by the store for every audit row it writes."""
        if event not in _KNOWN_EVENTS:
            event = "other"
        self._child(self.events, event).inc()
        if event == "attempt":
            self.attempts.inc()
        elif event == "success":
            self._child(self.logins, "ok").inc()
        elif event == "failure":
            self._child(self.logins, "failed").inc()
        elif event == "lockout":
            self.lockouts.inc()


METRICS = Metrics()
_started = threading.Lock()


def serve_metrics(host: str, port: int) -> None:
    """Expose the metrics on ``http://host:port/metrics`` (a daemon thread); port 0: none."""
    if port <= 0:
        return
    with _started:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            start_http_server(port, addr=host, registry=registry)
        else:
            start_http_server(port, addr=host)
