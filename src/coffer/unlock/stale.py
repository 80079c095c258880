"""The stale-password guard: an unattended run never spends a second vault guess with a password
that already failed.

Rules:

- After a password from a source that needs no person (a file, a command, the environment, a
  program's value) fails at the vault, this device records, per repository and password slot,
  a **salted slow hash** of it — Argon2id (libargon2; m = 19 MiB, t = 2, p = 1), a fresh random
  16-byte salt, the input labelled with :data:`LABEL` and the slot — with the time, where the
  password came from and the attempts the vault said were left. Never the password itself.
- Before a given password is sent, it is compared with the record (constant time). The same
  password: without a terminal the flow refuses with
  :class:`~coffer.unlock.errors.PasswordAlreadyFailed` (exit code 16) before contacting the
  vault; at a terminal it says so and asks instead. A different password is tried (and replaces
  the record if it fails too). Any successful unlock of the slot — typed or given — removes the
  record. A typed password that fails is not recorded: the person sees the count and is asked
  again.
- Why a slow hash: the failed password is often the *previous* password, still worth something
  to whoever reads this device's files; the record must not make guessing it cheap. The cost is
  paid only when a record exists.
- The record is state of this device (:func:`coffer.paths.state_dir`), one 0600 JSON file per
  repository: ``failed-passwords/<repository ID>.json``. A file that does not parse counts as
  no record (the worst case is one more guess, never a refused good password).

Record format, version 1::

    {"version": 1, "slots": {"<slot ids>": {"kdf": "argon2id", "m": 19456, "t": 2, "p": 1,
     "salt": "<base64url>", "hash": "<base64url, 32 bytes>", "failed_at": <unix seconds>,
     "origin": "--password-file /etc/coffer/pw", "attempts_left": 9}}}
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argon2.low_level import ARGON2_VERSION, Type, hash_secret_raw

from coffer.paths import state_dir, write_private

VERSION = 1
LABEL = b"coffer/v1/failed-password"
_M_KIB, _T, _P, _SALT_LEN, _HASH_LEN = 19456, 2, 1, 16, 32


@dataclass(frozen=True)
class Failure:
    """What the device remembers about a password that failed (no secret in it)."""

    failed_at: float
    origin: str
    attempts_left: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _hash(slot_key: str, password: bytes, salt: bytes, m: int, t: int, p: int) -> bytes:
    labelled = LABEL + b"\x00" + slot_key.encode("utf-8") + b"\x00" + password
    return hash_secret_raw(
        secret=labelled, salt=salt, time_cost=t, memory_cost=m, parallelism=p,
        hash_len=_HASH_LEN, type=Type.ID, version=ARGON2_VERSION,
    )  # fmt: skip


class FailedPasswords:
    """The device's record of failed given passwords for one repository."""

    def __init__(self, repo_id: bytes, folder: Path | None = None) -> None:
        self.path = (folder or state_dir() / "failed-passwords") / f"{repo_id.hex()}.json"

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("version") != VERSION:
            return {}
        slots = data.get("slots")
        return slots if isinstance(slots, dict) else {}

    def _save(self, slots: dict[str, Any]) -> None:
        if not slots:
            self.path.unlink(missing_ok=True)
            return
        text = json.dumps({"version": VERSION, "slots": slots}, indent=1, sort_keys=True)
        write_private(self.path, text.encode("utf-8") + b"\n")

    def failed_before(self, slot_key: str, password: bytes) -> Failure | None:
        """The record of ``password`` having failed for this slot, or None."""
        entry = self._load().get(slot_key)
        if not isinstance(entry, dict):
            return None
        try:
            m, t, p = int(entry["m"]), int(entry["t"]), int(entry["p"])
            salt, digest = _unb64(entry["salt"]), _unb64(entry["hash"])
            failure = Failure(float(entry["failed_at"]), str(entry["origin"]),
                              int(entry["attempts_left"]))  # fmt: skip
        except (TypeError, KeyError, ValueError, binascii.Error):
            return None
        if entry.get("kdf") != "argon2id" or not (8 <= m <= 2**22 and 1 <= t <= 16 and p == 1):
            return None
        same = hmac.compare_digest(_hash(slot_key, password, salt, m, t, p), digest)
        return failure if same else None

    def record(self, slot_key: str, password: bytes, origin: str, attempts_left: int) -> None:
        """Remember that ``password`` (from ``origin``) failed for this slot."""
        salt = os.urandom(_SALT_LEN)
        slots = self._load()
        slots[slot_key] = {
            "kdf": "argon2id", "m": _M_KIB, "t": _T, "p": _P, "salt": _b64(salt),
            "hash": _b64(_hash(slot_key, password, salt, _M_KIB, _T, _P)),
            "failed_at": int(time.time()), "origin": origin, "attempts_left": attempts_left,
        }  # fmt: skip
        self._save(slots)

    def clear(self, slot_key: str) -> None:
        """Forget the slot's record (after a successful unlock)."""
        slots = self._load()
        if slots.pop(slot_key, None) is not None:
            self._save(slots)
