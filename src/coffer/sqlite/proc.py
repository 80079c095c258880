"""The logical dump and restore in a child process, through a pipe.

Rules: :class:`ProcessLogicalStream` yields exactly the bytes :func:`~.logical.dump_logical`
writes; the child runs ``python -m coffer.sqlite.proc dump DB`` with the same
interpreter, writes the stream to stdout and one JSON line of :class:`DumpStats` to stderr.
A failure in the child (including :class:`UnsupportedDatabase`) is raised in the parent as
:class:`UnsupportedDatabase` when the pipe ends; closing the stream early kills the child.
:class:`ProcessRestore` is the mirror image (``... restore DB``): ``write()`` the stream,
``finish()`` returns :class:`RestoreStats` or raises :class:`LogicalFormatError` (or
:class:`RestoreTargetExists`) with the child's message; ``close()`` without ``finish()`` kills
the child, which leaves no file behind.

Theory: the dump is pure-Python encoding that holds the GIL for every row; in a child process it
uses the second core while the parent chunks, hashes, compresses and seals (which release the
GIL), and the pipe keeps memory bounded. The restoring child reads its stdin in a thread up to
:data:`PREFETCH` pieces of 1 MiB ahead (and the parent asks for a 1 MiB pipe): with only the
pipe's default 64 KiB between them, the parent's reading, decrypting and decompressing of blobs
waited for every row insert and the rebuild for every blob, instead of overlapping.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import io
import json
import os
import queue
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, BinaryIO, cast

import msgspec

from coffer.sqlite.dump import dump
from coffer.sqlite.logical import (
    DumpStats,
    LogicalFormatError,
    RestoreStats,
    RestoreTargetExists,
    UnsupportedDatabase,
    dump_logical,
    restore_logical,
)
from coffer.sqlite.segments import DbMap

EXIT_UNSUPPORTED = 3
EXIT_EXISTS = 4
EXIT_FORMAT = 5
PIECE = 1 << 20
PREFETCH = 2  # pieces read ahead by the restoring child
PIPE_BYTES = 1 << 20  # the pipe to the restoring child (Linux; the default stays elsewhere)


class ProcessLogicalStream(io.RawIOBase):
    """A readable (``readinto``) logical stream produced by a child process."""

    def __init__(self, db_path: Path) -> None:
        super().__init__()
        self._db = Path(db_path)
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "coffer.sqlite.proc", "dump", str(self._db)],
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
        if self.stats is not None:
            return  # end of stream seen before (a buffered reader may ask twice)
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


class ProcessRestore:
    """Feed a logical stream to ``restore_logical`` running in a child process."""

    def __init__(self, db_path: Path, *, full_check: bool = True) -> None:
        self._db = Path(db_path)
        command = "restore" if full_check else "restore-quick"
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "coffer.sqlite.proc", command, str(self._db)],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        assert self._proc.stdin is not None
        set_pipe_size = getattr(fcntl, "F_SETPIPE_SZ", None)
        if set_pipe_size is not None:
            with contextlib.suppress(OSError):  # above /proc/sys/fs/pipe-max-size: keep default
                fcntl.fcntl(self._proc.stdin.fileno(), set_pipe_size, PIPE_BYTES)

    def write(self, data: bytes | bytearray | memoryview) -> int:
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(data)
        except BrokenPipeError:
            self.finish()  # the child stopped early: raise its error
        return len(data)

    def finish(self) -> RestoreStats:
        assert self._proc.stdin is not None and self._proc.stderr is not None
        with contextlib.suppress(BrokenPipeError):
            self._proc.stdin.close()
        err = self._proc.stderr.read().decode(errors="replace").strip()
        code = self._proc.wait()
        last = err.splitlines()[-1] if err else f"exit code {code}"
        if code == EXIT_EXISTS:
            raise RestoreTargetExists(last)
        if code != 0:
            raise LogicalFormatError(f"restore of {self._db} failed: {last}")
        return RestoreStats(**json.loads(last))

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        for pipe in (self._proc.stdin, self._proc.stderr):
            if pipe is not None:
                with contextlib.suppress(BrokenPipeError):
                    pipe.close()

    def __enter__(self) -> ProcessRestore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Prefetch:
    """``read()`` of a file descriptor that a thread reads ahead, :data:`PREFETCH` pieces at most.

    The thread blocks in ``os.read`` (the GIL released) while the caller works; memory stays
    bounded by the queue (pieces of about :data:`PIECE` bytes). It reads the descriptor, not
    ``sys.stdin.buffer``: a daemon thread still inside a buffered read when the interpreter
    exits (the rebuild failed before the end of its input) aborts the exit with a fatal error.
    A read error in the thread is raised by the next ``read()``.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._queue: queue.Queue[bytes | OSError] = queue.Queue(maxsize=PREFETCH)
        self._left = b""
        self._eof = False
        threading.Thread(target=self._run, name="coffer-prefetch", daemon=True).start()

    def _run(self) -> None:
        try:
            while True:
                piece = bytearray()
                while len(piece) < PIECE:
                    data = os.read(self._fd, PIECE - len(piece))
                    if not data:
                        break
                    piece += data
                self._queue.put(bytes(piece))
                if len(piece) < PIECE:  # end of input (an empty piece tells the reader)
                    if piece:
                        self._queue.put(b"")
                    return
        except OSError as exc:
            self._queue.put(exc)

    def read(self, n: int = -1) -> bytes:
        if not self._left and not self._eof:
            item = self._queue.get()
            if isinstance(item, OSError):
                raise item
            self._left, self._eof = item, not item
        if n < 0 or n >= len(self._left):
            data, self._left = self._left, b""
        else:
            data, self._left = self._left[:n], self._left[n:]
        return data


def dump_pieces(db_path: Path, out: BinaryIO, map_in: Path | None, manifest: Path) -> DumpStats:
    """The segmented dump (:mod:`.dump`): new bytes to ``out``, :class:`Manifest` to a file."""
    started = time.perf_counter()
    old = DbMap.decode(map_in.read_bytes()) if map_in is not None else None
    try:
        result = dump(db_path, lambda data: _write_all(out, data), old)
    except sqlite3.Error as exc:
        raise UnsupportedDatabase(f"cannot dump {db_path}: {exc}") from exc
    out.flush()
    doc = Manifest(
        pieces=[(p.length, p.section, p.seg, p.reused) for p in result.pieces],
        map=result.map.encode() if result.map is not None else None,
        reused_rows=result.reused_rows,
    )
    manifest.write_bytes(msgspec.msgpack.encode(doc))
    return DumpStats(schema_objects=result.schema_objects, sections=result.sections,
                     rows=result.rows, bytes=result.bytes,
                     seconds=time.perf_counter() - started)  # fmt: skip


def _write_all(out: BinaryIO, data: bytes) -> None:
    out.write(data)


class Manifest(msgspec.Struct):
    """What a segmented dump wrote: (length, section, segment, reused) per piece, the new map."""

    pieces: list[tuple[int, int, int, bool]]
    map: bytes | None
    reused_rows: int = 0


def main(argv: list[str]) -> int:
    usage = "usage: python -m coffer.sqlite.proc dump|restore[-quick] DB | pieces DB MAP|- OUT"
    if not (len(argv) == 2 and argv[0] in ("dump", "restore", "restore-quick")) and not (
        len(argv) == 4 and argv[0] == "pieces"
    ):
        print(usage, file=sys.stderr)
        return 2
    stats: DumpStats | RestoreStats
    try:
        if argv[0] == "pieces":
            map_in = None if argv[2] == "-" else Path(argv[2])
            stats = dump_pieces(Path(argv[1]), sys.stdout.buffer, map_in, Path(argv[3]))
        elif argv[0] == "dump":
            stats = dump_logical(Path(argv[1]), sys.stdout.buffer)
            sys.stdout.buffer.flush()
        else:
            full = argv[0] == "restore"
            stream = cast(BinaryIO, Prefetch(sys.stdin.fileno()))
            stats = restore_logical(stream, Path(argv[1]), full_check=full)
    except UnsupportedDatabase as exc:
        print(exc, file=sys.stderr)
        return EXIT_UNSUPPORTED
    except RestoreTargetExists as exc:
        print(exc, file=sys.stderr)
        return EXIT_EXISTS
    except LogicalFormatError as exc:
        print(exc, file=sys.stderr)
        return EXIT_FORMAT
    print(json.dumps(dataclasses.asdict(stats)), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
