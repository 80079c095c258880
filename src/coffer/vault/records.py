"""The plain records the store and the protocol exchange (no behaviour, no I/O).

Fields holding records, sealed states or sealed secrets are left out of ``repr``.

Account states: ``active`` (has a record and a sealed secret), ``locked`` (allowance used up;
record and secret destroyed), ``ghost`` (never registered; a counter so that unknown accounts
behave like real ones on the login path).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")

ACTIVE, LOCKED, GHOST = "active", "locked", "ghost"


@dataclass(frozen=True)
class AuditContext:
    """Who caused an event: client address and the node that handled it."""

    client: str = ""
    node: str = ""


@dataclass(frozen=True)
class AttemptRow:
    """What a login needs from the account row after the decrement."""

    account: str
    record: bytes | None = field(repr=False)
    cred_id: bytes
    ksf: str
    attempts_left: int
    generation: int


@dataclass(frozen=True)
class PendingRow:
    """A consumed pending attempt or grant."""

    id: bytes
    account: str
    kind: str
    generation: int
    sealed: bytes = field(repr=False)
    expires_at: float


class Outcome(enum.Enum):
    OK = "ok"
    FAILED = "failed"
    EXPIRED = "expired"
    CONFLICT = "conflict"
    LOCKED = "locked"


@dataclass(frozen=True)
class Finish(Generic[T]):
    """The result of consuming a pending attempt."""

    outcome: Outcome
    account: str = ""
    attempts_left: int = 0
    locked: bool = False
    value: T | None = field(default=None, repr=False)


class Action(enum.Enum):
    """What a verified KE3 authorises."""

    RECOVER = "recover"
    DELETE = "delete"
    GRANT = "grant"


@dataclass(frozen=True)
class GrantSpec:
    """The pending grant a verified change-password KE3 creates."""

    id: bytes
    sealed: bytes = field(repr=False)
    expires_at: float


@dataclass(frozen=True)
class NewRecord:
    """A registration: what the client uploaded plus the server's credential identifier."""

    account: str
    cred_id: bytes
    record: bytes = field(repr=False)
    secret: bytes = field(repr=False)
    ksf: str
