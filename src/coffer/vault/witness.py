"""The vault as a freshness witness: the handlers of ``POST /v1/witness/update`` and ``/read``.

Rules:

- Sans I/O like :mod:`coffer.vault.protocol`: decoded JSON in, JSON out, the clock injected;
  failures are :class:`~coffer.vault.errors.RequestRefused` subclasses. Message formats and
  signatures are :mod:`coffer.freshness.witness_proto` (shared with the client); storage is
  :mod:`coffer.vault.store_witness`.
- An update is checked in this order: fields (400), the signature under the presented key (403
  ``bad_signature``: nothing is stored, not even a first registration), then in one
  transaction the registered key (403 ``key_mismatch``), a new writer beyond the maximum (409
  ``too_many_writers``), ``seq`` strictly above the stored one (409 ``stale`` with
  ``stored_seq``: a replayed or older row).
- A read of an unknown witness ID is ``{"public_key": null, "rows": []}``: the ID is a 256-bit
  value derived from the owner's master key, so nothing is learnt by probing.
- Nothing from a request is logged: the witness ID is a lookup secret (whoever knows it can read
  the rows), so it never reaches a log line, a metric label or an error message.

Theory of operation: the vault learns a random-looking ID, a public key, and per writer a
counter, a keyed digest and the time of each update. It cannot forge or advance a row; an
operator can withhold rows or serve older ones — what the client can and cannot detect is in
docs/threat-model.md.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from coffer.freshness import witness_proto as wp
from coffer.vault import store_witness
from coffer.vault.errors import BadRequest, BadSignature, KeyMismatch, Stale, TooManyWriters
from coffer.vault.store import AuditContext, SqlStore
from coffer.vault.store_witness import Outcome


class WitnessHandlers:
    """The witness endpoints of one vault node over its store."""

    def __init__(
        self, store: SqlStore, clock: Callable[[], float], max_writers: int = wp.MAX_WRITERS
    ) -> None:
        self.store = store
        self.clock = clock
        self.max_writers = max_writers

    def update(self, body: dict[str, Any], ctx: AuditContext) -> dict[str, Any]:
        try:
            req = wp.parse_update_request(body)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        if not wp.verify_row(req.public_key, req.witness_id, req.row, req.signature):
            raise BadSignature("the row's signature does not verify under public_key")
        done = store_witness.update(self.store, req, self.clock(), self.max_writers)
        if done.outcome is Outcome.KEY_MISMATCH:
            raise KeyMismatch("this witness is registered with another public key")
        if done.outcome is Outcome.TOO_MANY_WRITERS:
            raise TooManyWriters(
                f"this witness already holds {self.max_writers} writers",
                max_writers=self.max_writers,
            )
        if done.outcome is Outcome.STALE:
            raise Stale(
                "the witness already holds this seq or a newer one for this writer",
                stored_seq=done.stored_seq,
            )
        return wp.update_response(req.row)

    def read(self, body: dict[str, Any], ctx: AuditContext) -> dict[str, Any]:
        try:
            witness_id = wp.parse_read_request(body)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        key, rows = store_witness.read(self.store, witness_id)
        signed = [
            wp.SignedRow(
                wp.WitnessRow(r.writer, r.seq, r.digest), r.signature, rfc3339(r.updated_at)
            )
            for r in rows
        ]
        return wp.read_response(key, signed)


def rfc3339(ts: float) -> str:
    """``2026-12-01T20:15:00Z`` (whole seconds, UTC)."""
    when = datetime.datetime.fromtimestamp(int(ts), tz=datetime.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")
