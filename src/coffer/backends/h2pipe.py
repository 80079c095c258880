"""HTTP/2 cleartext over a pair of pipes (prior knowledge, no upgrade), with the sans-I/O ``h2``.

Rules:

- One connection, one request at a time: a lock serialises :meth:`H2PipeTransport.send`,
  which makes the transport thread-safe. (rclone handles one stream quickly; the backend
  contract is about correctness, and concurrency limits live in ``LimitedBackend``.)
- Flow control both ways: the body is sent in frames no larger than the peer's window and frame
  size, waiting for WINDOW_UPDATE when needed; received data is acknowledged at once, and our
  windows are opened to 16 MiB so large packs stream without stalls.
- Any failure of the link (EOF, reset stream, GOAWAY, protocol error, broken pipe) marks the
  connection dead and raises :class:`TransientError`; the owner decides whether to reconnect.

Theory of operation: h2 is a state machine; this module pumps bytes between it and the pipes.
``_pump`` reads whatever the peer sent, feeds it to h2, writes h2's output, and returns the
events; ``send`` drives one stream from HEADERS to END_STREAM.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings

from coffer.backends.base import TransientError
from coffer.backends.restproto import Request, Response

WINDOW = 16 * 1024 * 1024
READ_SIZE = 256 * 1024


class LinkDown(TransientError):
    """The HTTP/2 link over the pipes failed; the transport is unusable."""


class H2PipeTransport:
    """Send REST requests as HTTP/2 streams over ``read_fd``/``write_fd``."""

    def __init__(self, read_fd: int, write_fd: int, *, authority: str = "rclone") -> None:
        self._rfd = read_fd
        self._wfd = write_fd
        self._authority = authority
        self._lock = threading.Lock()
        self._dead: str | None = None
        self._pending: list[Any] = []
        config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self._conn = h2.connection.H2Connection(config=config)

    @property
    def alive(self) -> bool:
        return self._dead is None

    def handshake(self) -> None:
        """Send the preface and settings; wait until the peer's SETTINGS arrive."""
        with self._lock:
            self._conn.initiate_connection()
            self._conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: WINDOW})
            self._conn.increment_flow_control_window(WINDOW - 65535)
            self._flush()
            while True:
                events = self._pump()
                if any(isinstance(e, h2.events.RemoteSettingsChanged) for e in events):
                    return

    # -- byte pumping ----------------------------------------------------------------------

    def _fail(self, why: str) -> LinkDown:
        self._dead = self._dead or why
        return LinkDown(f"connection to rclone lost: {why}")

    def _flush(self) -> None:
        data = self._conn.data_to_send()
        try:
            while data:
                n = os.write(self._wfd, data)
                data = data[n:]
        except OSError as exc:
            raise self._fail(f"write failed: {exc.strerror or exc}") from exc

    def _pump(self) -> list[Any]:
        try:
            chunk = os.read(self._rfd, READ_SIZE)
        except OSError as exc:
            raise self._fail(f"read failed: {exc.strerror or exc}") from exc
        if not chunk:
            raise self._fail("rclone closed its output")
        try:
            events = self._conn.receive_data(chunk)
        except h2.exceptions.ProtocolError as exc:
            raise self._fail(f"HTTP/2 protocol error: {exc}") from exc
        for event in events:
            if isinstance(event, h2.events.DataReceived) and event.flow_controlled_length:
                self._conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            if isinstance(event, h2.events.ConnectionTerminated):
                raise self._fail(f"GOAWAY (error code {event.error_code})")
        self._flush()
        return list(events)

    # -- one request -----------------------------------------------------------------------

    def send(self, request: Request) -> Response:
        with self._lock:
            if self._dead is not None:
                raise LinkDown(f"connection to rclone lost: {self._dead}")
            try:
                return self._exchange(request)
            except h2.exceptions.H2Error as exc:
                raise self._fail(f"HTTP/2 error: {exc}") from exc

    def _exchange(self, request: Request) -> Response:
        self._pending = []
        sid = self._conn.get_next_available_stream_id()
        headers = [
            (":method", request.method),
            (":scheme", "http"),
            (":authority", self._authority),
            (":path", request.path),
            *((k.lower(), v) for k, v in request.headers.items()),
        ]
        self._conn.send_headers(sid, headers, end_stream=not request.body)
        self._flush()
        if request.body:
            self._send_body(sid, request.body)
        return self._receive(sid)

    def _send_body(self, sid: int, body: bytes) -> None:
        """Send the body within flow-control limits; stop early if the peer already answered."""
        view = memoryview(body)
        while view and not self._answered(sid):
            room = min(
                self._conn.local_flow_control_window(sid), self._conn.max_outbound_frame_size
            )
            if room <= 0:
                self._pending.extend(self._pump())
                continue
            piece, view = view[:room], view[room:]
            try:
                self._conn.send_data(sid, piece.tobytes(), end_stream=not view)
            except h2.exceptions.StreamClosedError:
                return  # the server answered (and closed) before reading everything
            self._flush()

    def _answered(self, sid: int) -> bool:
        ends = (h2.events.StreamEnded, h2.events.StreamReset)
        return any(isinstance(e, ends) and e.stream_id == sid for e in self._pending)

    def _next_events(self) -> list[Any]:
        if self._pending:
            events, self._pending = self._pending, []
            return events
        return self._pump()

    def _receive(self, sid: int) -> Response:
        status, headers, body = 0, {}, bytearray()
        while True:
            for event in self._next_events():
                if getattr(event, "stream_id", sid) != sid:
                    continue
                if isinstance(event, h2.events.ResponseReceived):
                    headers = {str(k): str(v) for k, v in event.headers}
                    status = int(headers.pop(":status", "0"))
                elif isinstance(event, h2.events.DataReceived):
                    body += event.data
                elif isinstance(event, h2.events.StreamReset) and not status:
                    raise TransientError(f"rclone reset the stream (error code {event.error_code})")
                elif isinstance(event, h2.events.StreamEnded | h2.events.StreamReset):
                    return Response(status, headers, bytes(body))

    def close(self) -> None:
        """Say GOAWAY (best effort); the owner closes the pipes."""
        with self._lock:
            if self._dead is None:
                self._dead = "closed"
                try:
                    self._conn.close_connection()
                    self._flush()
                except (LinkDown, h2.exceptions.H2Error):
                    pass
