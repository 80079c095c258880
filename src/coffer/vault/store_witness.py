"""The witness's statements (``POST /v1/witness/update`` and ``/read``), portable SQL over a
:class:`~coffer.vault.store.SqlStore` (SQLite ≥ 3.35, PostgreSQL ≥ 12).

Rules:

- An update is one transaction. Its first statement registers the witness's public key or,
  if the witness exists, locks its row (``INSERT … ON CONFLICT DO UPDATE … RETURNING``: the
  PostgreSQL row lock, SQLite's ``BEGIN IMMEDIATE``), so all updates of one witness are
  serialised — the writer count and the "strictly greater" check cannot race.
- A row changes only through ``UPDATE … WHERE seq < new``; the stored ``seq`` never goes down,
  and an equal ``seq`` (a replay) is refused like a lower one.
- The signature is checked by the caller (:mod:`coffer.vault.witness`) before the transaction,
  against the presented key; here the presented key must equal the registered one
  (constant-time compare). The first update of a witness ID registers its key (trust on first
  use: only the owner can compute the ID).
- At most :data:`~coffer.freshness.witness_proto.MAX_WRITERS` rows per witness (4096).
- The tables hold the witness ID, the public key, and per writer its ID, ``seq``, digest,
  signature and update time — nothing about a repository's contents. No audit rows (an update
  per backup would swamp the audit log; the row keeps its own time).
"""

from __future__ import annotations

import enum
import hmac
from dataclasses import dataclass

from coffer.freshness.witness_proto import MAX_WRITERS, UpdateRequest
from coffer.vault.store import SqlStore


class Outcome(enum.Enum):
    OK = "ok"
    STALE = "stale"
    KEY_MISMATCH = "key-mismatch"
    TOO_MANY_WRITERS = "too-many-writers"


@dataclass(frozen=True)
class UpdateResult:
    outcome: Outcome
    stored_seq: int | None = None
    """The stored ``seq`` of the writer after the transaction (None: no row)."""


@dataclass(frozen=True)
class StoredRow:
    writer: str
    seq: int
    digest: bytes
    signature: bytes
    updated_at: float


def update(
    store: SqlStore, req: UpdateRequest, now: float, max_writers: int = MAX_WRITERS
) -> UpdateResult:
    """Store ``req``'s row if it moves its writer strictly forward (module rules)."""
    row = req.row
    with store._tx() as cur:
        registered = store._run(
            cur,
            "INSERT INTO witnesses (witness_id, public_key, created_at) VALUES (%s, %s, %s)"
            " ON CONFLICT (witness_id) DO UPDATE SET public_key = witnesses.public_key"
            " RETURNING public_key",
            req.witness_id,
            req.public_key,
            now,
        ).fetchone()
        if not hmac.compare_digest(bytes(registered[0]), req.public_key):
            return UpdateResult(Outcome.KEY_MISMATCH)
        found = store._run(
            cur,
            "SELECT seq FROM witness_rows WHERE witness_id = %s AND writer = %s",
            req.witness_id,
            row.writer,
        ).fetchone()
        if found is None:
            count = store._run(
                cur, "SELECT COUNT(*) FROM witness_rows WHERE witness_id = %s", req.witness_id
            ).fetchone()
            if int(count[0]) >= max_writers:
                return UpdateResult(Outcome.TOO_MANY_WRITERS)
            store._run(
                cur,
                "INSERT INTO witness_rows (witness_id, writer, seq, digest, signature, updated_at)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                req.witness_id,
                row.writer,
                row.seq,
                row.digest,
                req.signature,
                now,
            )
            return UpdateResult(Outcome.OK, row.seq)
        moved = store._run(
            cur,
            "UPDATE witness_rows SET seq = %s, digest = %s, signature = %s, updated_at = %s"
            " WHERE witness_id = %s AND writer = %s AND seq < %s RETURNING seq",
            row.seq,
            row.digest,
            req.signature,
            now,
            req.witness_id,
            row.writer,
            row.seq,
        ).fetchone()
    if moved is None:
        return UpdateResult(Outcome.STALE, int(found[0]))
    return UpdateResult(Outcome.OK, int(moved[0]))


def read(store: SqlStore, witness_id: bytes) -> tuple[bytes | None, list[StoredRow]]:
    """The registered public key (None: unknown witness) and every row, in writer order."""
    with store._tx() as cur:
        key = store._run(
            cur, "SELECT public_key FROM witnesses WHERE witness_id = %s", witness_id
        ).fetchone()
        rows = store._run(
            cur,
            "SELECT writer, seq, digest, signature, updated_at FROM witness_rows"
            " WHERE witness_id = %s ORDER BY writer",
            witness_id,
        ).fetchall()
    return (
        None if key is None else bytes(key[0]),
        [StoredRow(str(r[0]), int(r[1]), bytes(r[2]), bytes(r[3]), float(r[4])) for r in rows],
    )
