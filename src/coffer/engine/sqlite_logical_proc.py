"""The logical dump in a child process, read through a pipe.

Rules: :class:`ProcessLogicalStream` yields exactly the bytes :func:`~.sqlite_logical.dump_logical`
writes; the child runs ``python -m coffer.engine.sqlite_logical_proc DB`` with the same
interpreter, writes the stream to stdout and one JSON line of :class:`DumpStats` to stderr.
A failure in the child (including :class:`UnsupportedDatabase`) is raised in the parent as
:class:`UnsupportedDatabase` when the pipe ends; closing the stream early kills the child.

Theory: the dump is pure-Python encoding that holds the GIL for every row; in a child process it
uses the second core while the parent chunks, hashes, compresses and seals (which release the
GIL), and the pipe keeps memory bounded.
"""

from __future__ import annotations

import dataclasses
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

from coffer.engine.sqlite_logical import DumpStats, UnsupportedDatabase, dump_logical

EXIT_UNSUPPORTED = 3


class ProcessLogicalStream(io.RawIOBase):
    """A readable (``readinto``) logical stream produced by a child process."""

    def __init__(self, db_path: Path) -> None:
        super().__init__()
        self._db = Path(db_path)
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "coffer.engine.sqlite_logical_proc", str(self._db)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        self.stats: DumpStats | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        stdout = cast(io.BufferedReader, self._proc.stdout)
        n = stdout.readinto(buffer)
        if not n:
            self._finish()
        return n or 0

    def _finish(self) -> None:
        assert self._proc.stderr is not None
        err = self._proc.stderr.read().decode(errors="replace").strip()
        if self._proc.wait() != 0:
            last = err.splitlines()[-1] if err else f"exit code {self._proc.returncode}"
            raise UnsupportedDatabase(f"cannot dump {self._db}: {last}")
        self.stats = DumpStats(**json.loads(err.splitlines()[-1]))

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        for pipe in (self._proc.stdout, self._proc.stderr):
            if pipe is not None:
                pipe.close()
        super().close()


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m coffer.engine.sqlite_logical_proc DB", file=sys.stderr)
        return 2
    try:
        stats = dump_logical(Path(argv[0]), sys.stdout.buffer)
        sys.stdout.buffer.flush()
    except UnsupportedDatabase as exc:
        print(exc, file=sys.stderr)
        return EXIT_UNSUPPORTED
    print(json.dumps(dataclasses.asdict(stats)), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
