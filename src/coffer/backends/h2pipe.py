"""HTTP/2 cleartext over a pair of pipes (prior knowledge, no upgrade), with the sans-I/O ``h2``.

Rules:

- Many requests at once, one HTTP/2 stream each (at most ``max_streams`` in flight), over one
  connection: rclone serves them in parallel, which is what makes slow cloud remotes usable.
- ``h2``'s state machine is not thread-safe: every use of it happens under one condition
  variable's lock. Nobody blocks on a pipe while holding that lock: a reader thread owns the
  read end, a writer thread drains a queue of outgoing bytes (filled, in order, under the lock).
- Flow control both ways: a body goes out in frames within the peer's stream window and frame
  size, waiting for WINDOW_UPDATE; received data is acknowledged at once and our windows are
  opened to 16 MiB so large packs stream without stalls.
- Any failure of the link (EOF, GOAWAY, protocol error, broken pipe) marks the connection dead,
  fails every waiting request with :class:`LinkDown` (a :class:`TransientError`) and makes later
  requests fail the same way; the owner decides whether to start a new connection.

Theory of operation: callers open a stream (headers) under the lock, send their body frame by
frame under the lock, then wait on the condition until the reader thread has seen END_STREAM or
RST_STREAM for it. The reader feeds every chunk it reads to h2, files each event under its
stream, queues h2's replies (ACKs, window updates) and wakes all waiters. The worker threads hold
no reference to the owner of the process, so garbage collection of that owner still works.
"""

from __future__ import annotations

import os
import queue
import threading
from typing import Any

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings

from coffer.backends.base import TransientError
from coffer.backends.restproto import Request, Response

WINDOW = 16 * 1024 * 1024
READ_SIZE = 256 * 1024


class LinkDown(TransientError):
    """The HTTP/2 link over the pipes failed; the transport is unusable."""


class _Stream:
    """What has arrived for one request."""

    def __init__(self) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body = bytearray()
        self.max_body: int | None = None
        self.done = False
        self.error: str | None = None


class H2PipeTransport:
    """Send REST requests as concurrent HTTP/2 streams over ``read_fd``/``write_fd``."""

    def __init__(
        self, read_fd: int, write_fd: int, *, authority: str = "rclone", max_streams: int = 16
    ) -> None:
        self._rfd, self._wfd = read_fd, write_fd
        self._authority = authority
        self._cv = threading.Condition()
        self._slots = threading.BoundedSemaphore(max_streams)
        self._out: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._streams: dict[int, _Stream] = {}
        self._dead: str | None = None
        self._settled = False
        self._threads: list[threading.Thread] = []
        config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self._conn = h2.connection.H2Connection(config=config)

    @property
    def alive(self) -> bool:
        return self._dead is None

    def handshake(self, timeout: float) -> None:
        """Start the worker threads, send preface and settings, wait for the peer's SETTINGS."""
        with self._cv:
            self._conn.initiate_connection()
            self._conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: WINDOW})
            self._conn.increment_flow_control_window(WINDOW - 65535)
            self._queue_output()
        self._threads = [
            threading.Thread(target=self._write_loop, name="coffer-h2-writer", daemon=True),
            threading.Thread(target=self._read_loop, name="coffer-h2-reader", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        with self._cv:
            if not self._cv.wait_for(lambda: self._settled or self._dead is not None, timeout):
                self._die(f"no HTTP/2 settings within {timeout:.0f} s")
            if self._dead is not None:
                raise LinkDown(f"connection to rclone lost: {self._dead}")

    # -- worker threads (they touch h2 only under the lock) ---------------------------------

    def _queue_output(self) -> None:
        data = self._conn.data_to_send()
        if data:
            self._out.put(data)

    def _die(self, why: str) -> None:
        """Mark the link dead and wake everyone (lock held)."""
        if self._dead is None:
            self._dead = why
        self._cv.notify_all()

    def _write_loop(self) -> None:
        while (data := self._out.get()) is not None:
            try:
                while data:
                    data = data[os.write(self._wfd, data) :]
            except OSError as exc:
                with self._cv:
                    self._die(f"write failed: {exc.strerror or exc}")
                return

    def _read_loop(self) -> None:
        try:
            while self._read_once():
                pass
        finally:
            self._out.put(None)

    def _read_once(self) -> bool:
        try:
            chunk = os.read(self._rfd, READ_SIZE)
        except OSError as exc:
            chunk, why = b"", f"read failed: {exc.strerror or exc}"
        else:
            why = "rclone closed its output"
        with self._cv:
            if not chunk:
                self._die(why)
                return False
            try:
                for event in self._conn.receive_data(chunk):
                    self._dispatch(event)
            except h2.exceptions.ProtocolError as exc:
                self._die(f"HTTP/2 protocol error: {exc}")
                return False
            self._queue_output()
            self._cv.notify_all()
            return self._dead is None

    def _dispatch(self, event: Any) -> None:
        if isinstance(event, h2.events.RemoteSettingsChanged):
            self._settled = True
        elif isinstance(event, h2.events.ConnectionTerminated):
            self._die(f"GOAWAY (error code {event.error_code})")
        elif isinstance(event, h2.events.DataReceived) and event.flow_controlled_length:
            self._conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        stream = self._streams.get(getattr(event, "stream_id", 0))
        if stream is None:
            return
        if isinstance(event, h2.events.ResponseReceived):
            stream.headers = {str(k): str(v) for k, v in event.headers}
            stream.status = int(stream.headers.pop(":status", "0"))
        elif isinstance(event, h2.events.DataReceived):
            room = (
                len(event.data) if stream.max_body is None else stream.max_body - len(stream.body)
            )
            if room > 0:  # beyond the request's max_body the data is acknowledged and dropped
                stream.body += event.data[:room]
        elif isinstance(event, h2.events.StreamEnded):
            stream.done = True
        elif isinstance(event, h2.events.StreamReset):
            if not stream.status or event.error_code:
                stream.error = f"rclone reset the stream (error code {event.error_code})"
            stream.done = True

    # -- one request -----------------------------------------------------------------------

    def send(self, request: Request) -> Response:
        with self._slots:
            stream, sid = _Stream(), 0
            stream.max_body = request.max_body
            try:
                with self._cv:
                    self._check_alive()
                    sid = self._open(request, stream)
                sent_all = not request.body or self._send_body(sid, stream, request.body)
                with self._cv:
                    self._cv.wait_for(lambda: stream.done or self._dead is not None)
                    if not stream.done:
                        self._check_alive()
                    if not sent_all:
                        self._cancel(sid)
            except h2.exceptions.H2Error as exc:
                with self._cv:
                    self._die(f"HTTP/2 error: {exc}")
                raise LinkDown(f"connection to rclone lost: HTTP/2 error: {exc}") from exc
            finally:
                with self._cv:
                    self._streams.pop(sid, None)
        if stream.error:
            raise TransientError(stream.error)
        return Response(stream.status, stream.headers, bytes(stream.body))

    def _check_alive(self) -> None:
        if self._dead is not None:
            raise LinkDown(f"connection to rclone lost: {self._dead}")

    def _open(self, request: Request, stream: _Stream) -> int:
        sid: int = self._conn.get_next_available_stream_id()
        self._streams[sid] = stream
        headers = [
            (":method", request.method),
            (":scheme", "http"),
            (":authority", self._authority),
            (":path", request.path),
            *((k.lower(), v) for k, v in request.headers.items()),
        ]
        self._conn.send_headers(sid, headers, end_stream=not request.body)
        self._queue_output()
        return sid

    def _cancel(self, sid: int) -> None:
        """Close our half of a stream the server answered before reading the whole body."""
        try:
            self._conn.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
        except h2.exceptions.StreamClosedError:
            return
        self._queue_output()

    def _send_body(self, sid: int, stream: _Stream, body: bytes) -> bool:
        """Send ``body`` within flow control, one frame per lock hold; stop if answered early.

        Return whether the whole body (and END_STREAM) went out."""
        view = memoryview(body)
        while view:
            with self._cv:
                if stream.done or self._dead is not None:
                    return False
                room = min(
                    self._conn.local_flow_control_window(sid), self._conn.max_outbound_frame_size
                )
                if room <= 0:
                    self._cv.wait()
                    continue
                piece, view = view[:room], view[room:]
                try:
                    self._conn.send_data(sid, piece.tobytes(), end_stream=not view)
                except h2.exceptions.StreamClosedError:
                    return True  # the server answered and reset the stream: nothing to close
                self._queue_output()
        return True

    def join(self, timeout: float, *, writer_only: bool = False) -> bool:
        """Wait for the worker threads (or just the writer) to end; True when they did.

        The owner must not close a pipe while a worker may still use its file descriptor: the
        number could be reused by an unrelated file in the meantime."""
        threads = self._threads[:1] if writer_only else self._threads
        for thread in threads:
            thread.join(timeout)
        return not any(t.is_alive() for t in threads)

    def close(self) -> None:
        """Say GOAWAY (best effort) and stop the writer; the owner closes the pipes."""
        with self._cv:
            if self._dead is None:
                try:
                    self._conn.close_connection()
                    self._queue_output()
                except h2.exceptions.H2Error:
                    pass
                self._die("closed")
        self._out.put(None)
