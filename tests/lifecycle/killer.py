"""Run prune in a child process and SIGKILL it just before its K-th storage mutation.

Usage: python killer.py REPO K MAX_UNUSED  (recovery key in COFFER_RECOVERY_KEY)

Exits 0 if prune finished before reaching mutation K. The kill is a real SIGKILL sent by the
process to itself, so nothing (no finally, no atexit) runs afterwards — as after a power cut
or the OOM killer.
"""

from __future__ import annotations

import os
import signal
import sys

from coffer.backends.base import Backend, ObjectType
from coffer.backends.local import LocalBackend
from coffer.backends.wrapper import Wrapper
from coffer.crypto.recovery import RecoveryKey
from coffer.crypto.slots import SlotKind
from coffer.engine.repository import Repository
from coffer.ops.prune import PruneOptions, prune


class KillBefore(Wrapper):
    def __init__(self, inner: Backend, k: int) -> None:
        super().__init__(inner)
        self.k = k
        self.n = 0

    def _tick(self) -> None:
        self.n += 1
        if self.n == self.k:
            os.kill(os.getpid(), signal.SIGKILL)

    def save(self, kind: ObjectType, name: str, data: bytes, *, overwrite: bool = False) -> None:
        self._tick()
        super().save(kind, name, data, overwrite=overwrite)

    def remove(self, kind: ObjectType, name: str) -> None:
        self._tick()
        super().remove(kind, name)


def main() -> int:
    repo_path, k, max_unused = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    key = RecoveryKey.parse(os.environ["COFFER_RECOVERY_KEY"])
    backend = KillBefore(LocalBackend(repo_path), k)
    repo = Repository.open(backend, SlotKind.RECOVERY, key.secret)
    prune(repo, PruneOptions(grace=0, max_unused=max_unused))
    print(backend.n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
