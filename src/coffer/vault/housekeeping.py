"""A node's background duties: expire attempts, follow the stored settings, sweep old rows.

Rules: every node runs the same loop, so nothing depends on one special node; every duty is a
store transaction that is safe to run on several nodes at once (each statement re-checks its
condition). A failing duty is logged and retried on the next round — it never stops the node.

- every ``sweep_interval`` (15 s): end expired attempts (locking accounts they leave at zero);
- every ``settings_interval`` (5 s): re-read the stored settings (``vault settings set`` reaches
  every node within that time);
- every ``housekeeping_interval`` (10 min): delete idle ghosts, prune the audit log past its
  retention, drop refilled rate-limit buckets (:mod:`coffer.vault.store_admin`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool

from coffer.vault import store_admin
from coffer.vault.audit import log_event
from coffer.vault.errors import VaultError
from coffer.vault.protocol import VaultCore
from coffer.vault.store import AuditContext

if TYPE_CHECKING:
    from coffer.vault.app import HttpSettings


class Housekeeper:
    def __init__(self, core: VaultCore, http: HttpSettings) -> None:
        self.core = core
        self.http = http

    def _ctx(self) -> AuditContext:
        return AuditContext("housekeeping", self.core.settings.node)

    def sweep(self) -> None:
        self.core.store.sweep(self.core.clock(), self._ctx())

    def housekeeping(self) -> None:
        s, now, store = self.core.settings, time.time(), self.core.store
        store_admin.sweep_ghosts(store, now, s.ghost_ttl_days, self._ctx())
        store_admin.prune_audit(store, now, s.audit_retention_days, self._ctx())
        store_admin.sweep_rate_limits(store, now)

    async def run(self) -> None:
        duties: list[tuple[float, Callable[[], Any], str]] = [
            (self.http.sweep_interval, self.sweep, "sweep"),
            (self.http.settings_interval, self.core.refresh_settings, "settings"),
            (self.http.housekeeping_interval, self.housekeeping, "housekeeping"),
        ]
        due = [time.monotonic() + interval for interval, _, _ in duties]
        due[2] = time.monotonic()  # housekeeping once at start-up
        while True:
            await asyncio.sleep(max(0.0, min(due) - time.monotonic()))
            for i, (interval, duty, name) in enumerate(duties):
                if time.monotonic() >= due[i]:
                    due[i] = time.monotonic() + interval
                    await self._one(duty, name)

    @staticmethod
    async def _one(duty: Callable[[], Any], name: str) -> None:
        """Run one duty in a worker thread; a node stopping meanwhile waits for it to end (its
        transaction must not outlive the node's shutdown, e.g. run into a dropped schema)."""
        running = asyncio.ensure_future(run_in_threadpool(duty))
        try:
            await asyncio.shield(running)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await running
            raise
        except VaultError as exc:
            log_event(logging.WARNING, event=f"{name}-failed", detail=type(exc).__name__)
