"""Byte encoding of the SQLite logical stream: varints, typed values, records.

Rules (format version 1; every rule keeps one row's bytes a function of that row alone):

- ``varint``: unsigned LEB128, minimal length (a decoder rejects padding).
- A value is a tag byte and its payload:
  ``0x00`` NULL · ``0x01``–``0x08`` INTEGER as that many bytes of big-endian two's complement,
  the fewest that hold it · ``0x09`` REAL as 8 bytes big-endian IEEE 754 (so ``-0.0`` and
  ``±inf`` survive; SQLite never stores NaN) · ``0x0A`` TEXT as ``varint(len)`` + UTF-8 bytes
  exactly as SQLite returns them · ``0x0B`` BLOB as ``varint(len)`` + bytes.
- A record is ``tag byte + varint(len(payload)) + payload``; payloads are concatenated values.
  Decoding is strict: non-minimal integers or varints, unknown tags, trailing or missing bytes
  raise :class:`LogicalFormatError` — so ``encode(decode(b)) == b`` for every accepted ``b``.

Theory: records are self-delimiting and carry no offsets or counts of what follows, so a
content-defined chunker sees identical bytes for identical rows wherever they sit in the stream.
TEXT arrives from :mod:`sqlite3` as ``bytearray`` (``text_factory=bytearray``) and BLOB as
``bytes``, which tells the two apart without decoding; decoded TEXT is ``str``, or
:class:`RawText` when the bytes are not valid UTF-8 (restored byte-exactly with ``CAST``).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO, Protocol

from coffer.errors import IntegrityError

Value = None | int | float | str | bytes | bytearray

MAGIC = b"coffer-sqlite-logical\n"
FORMAT_VERSION = 1
TAG_HEADER, TAG_SCHEMA, TAG_TABLE, TAG_ROW, TAG_END_TABLE, TAG_END = b"HSTREZ"
T_NULL, T_REAL, T_TEXT, T_BLOB = 0x00, 0x09, 0x0A, 0x0B
_REAL = struct.Struct(">Bd")
_FLUSH = 1 << 20


class LogicalFormatError(IntegrityError):
    """The logical stream is malformed, truncated, or of an unsupported version."""


class RawText(bytes):
    """A TEXT value whose bytes are not valid UTF-8 (kept as the bytes SQLite stored)."""


def varint(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_SMALL_INT = [bytes((1, i)) for i in range(128)]
_TEXT_HEAD = [bytes((T_TEXT, n)) for n in range(128)]
_BLOB_HEAD = [bytes((T_BLOB, n)) for n in range(128)]
# the smallest magnitude that needs n bytes: a decoded n-byte integer inside (LOW[n], HIGH[n])
# would have fit in n - 1 bytes, so it is not minimal
_LOW = [0, 0] + [-(1 << (8 * (n - 1) - 1)) - 1 for n in range(2, 9)]
_HIGH = [0, 0] + [1 << (8 * (n - 1) - 1) for n in range(2, 9)]


def encode_values(values: Iterable[Any]) -> bytearray:
    """The concatenated encodings of ``values`` (see the module rules)."""
    buf = bytearray()
    for v in values:
        t = type(v)
        if t is int:
            if 0 <= v < 128:
                buf += _SMALL_INT[v]
                continue
            n = ((v if v >= 0 else ~v).bit_length() >> 3) + 1
            if n > 8:
                raise ValueError("integer outside SQLite's 64-bit range")
            buf.append(n)
            buf += v.to_bytes(n, "big", signed=True)
        elif t is bytearray or t is RawText:
            _put(buf, _TEXT_HEAD, T_TEXT, v)
        elif v is None:
            buf.append(T_NULL)
        elif t is float:
            buf += _REAL.pack(T_REAL, v)
        elif t is bytes:
            _put(buf, _BLOB_HEAD, T_BLOB, v)
        elif t is str:
            _put(buf, _TEXT_HEAD, T_TEXT, v.encode())
        else:
            raise TypeError(f"cannot encode a {t.__name__}")
    return buf


def _put(buf: bytearray, heads: list[bytes], tag: int, data: bytes | bytearray) -> None:
    n = len(data)
    if n < 128:
        buf += heads[n]
    else:
        buf.append(tag)
        buf += varint(n)
    buf += data


def _read_varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    start = pos
    while True:
        if pos >= end or shift > 63:
            raise LogicalFormatError("truncated or oversized varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            if byte == 0 and pos - start > 1:
                raise LogicalFormatError("non-minimal varint")
            return result, pos


def decode_values(buf: bytes, pos: int = 0, end: int | None = None) -> list[Value]:
    """Decode every value in ``buf[pos:end]``; strict (see the module rules)."""
    return decode_row(buf[pos:end])[0]


def decode_row(buf: bytes) -> tuple[list[Value], bool]:
    """Decode a record payload; also say whether it holds a :class:`RawText`."""
    try:
        return _decode(buf)
    except IndexError:
        raise LogicalFormatError("truncated value") from None


def _decode(buf: bytes) -> tuple[list[Value], bool]:
    out: list[Value] = []
    append = out.append
    pos, end, raw = 0, len(buf), False
    while pos < end:
        tag = buf[pos]
        if tag == 1:
            v = buf[pos + 1]
            append(v - 256 if v > 127 else v)
            pos += 2
        elif tag in (T_TEXT, T_BLOB):
            n = buf[pos + 1]
            if n < 0x80:
                start = pos + 2
            else:
                n, start = _read_varint(buf, pos + 1, end)
            pos = start + n
            if pos > end:
                raise LogicalFormatError("truncated text or blob")
            if tag == T_BLOB:
                append(buf[start:pos])
                continue
            try:
                append(buf[start:pos].decode())
            except UnicodeDecodeError:
                append(RawText(buf[start:pos]))
                raw = True
        elif tag == T_NULL:
            append(None)
            pos += 1
        elif tag <= 8:
            v = int.from_bytes(buf[pos + 1 : pos + 1 + tag], "big", signed=True)
            if _LOW[tag] < v < _HIGH[tag] or pos + 1 + tag > end:
                raise LogicalFormatError("non-minimal or truncated integer")
            append(v)
            pos += 1 + tag
        elif tag == T_REAL:
            if pos + 9 > end:
                raise LogicalFormatError("truncated real")
            append(_REAL.unpack_from(buf, pos)[1])
            pos += 9
        else:
            raise LogicalFormatError(f"unknown value tag {tag:#04x}")
    return out, raw


def record(tag: int, payload: bytes | bytearray) -> bytes:
    return bytes((tag,)) + varint(len(payload)) + payload


class Writable(Protocol):
    def write(self, data: bytes | bytearray, /) -> int | None: ...


class RecordWriter:
    """Buffers records and writes them to ``out`` in pieces of about 1 MiB."""

    def __init__(self, out: Writable) -> None:
        self._out = out
        self._buf = bytearray()
        self.bytes_written = 0

    def raw(self, data: bytes) -> None:
        self._buf += data
        if len(self._buf) >= _FLUSH:
            self.flush()

    def write(self, tag: int, payload: bytes | bytearray) -> None:
        buf = self._buf
        buf.append(tag)
        buf += varint(len(payload))
        buf += payload
        if len(buf) >= _FLUSH:
            self.flush()

    def flush(self) -> None:
        if self._buf:
            self._out.write(self._buf)
            self.bytes_written += len(self._buf)
            self._buf = bytearray()


class RecordReader:
    """Reads records from a stream through a ~1 MiB buffer; holds one record at a time."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._buf = b""
        self._pos = 0
        self.bytes_read = 0

    def _ensure(self, need: int) -> int:
        """Buffer at least ``need`` bytes if the stream has them; return how many are buffered."""
        while len(self._buf) - self._pos < need:
            more = self._stream.read(max(_FLUSH, need))
            if not more:
                break
            self._buf = self._buf[self._pos :] + more
            self._pos = 0
        return len(self._buf) - self._pos

    def exact(self, n: int) -> bytes:
        if self._ensure(n) < n:
            raise LogicalFormatError("stream is truncated")
        data = self._buf[self._pos : self._pos + n]
        self._pos += n
        self.bytes_read += n
        return data

    def records(self) -> Iterator[tuple[int, bytes]]:
        """Yield ``(tag, payload)`` until the stream ends cleanly between records."""
        while True:
            buf, pos = self._buf, self._pos
            if pos + 3 <= len(buf):  # fast path: a record with a 1- or 2-byte length, buffered
                b1 = buf[pos + 1]
                if b1 < 0x80:
                    length, start = b1, pos + 2
                else:
                    b2 = buf[pos + 2]
                    length, start = (b1 & 0x7F) | (b2 << 7), pos + 3
                    if b2 == 0 or b2 >= 0x80:
                        start = -1
                if start > 0 and start + length <= len(buf):
                    self._pos = start + length
                    self.bytes_read += self._pos - pos
                    yield buf[pos], buf[start : self._pos]
                    continue
            have = self._ensure(11)  # tag + the longest varint
            if have == 0:
                return
            tag = self._buf[self._pos]
            length, body = _read_varint(self._buf, self._pos + 1, self._pos + have)
            header = body - self._pos
            if self._ensure(header + length) < header + length:
                raise LogicalFormatError("stream ends in the middle of a record")
            start = self._pos + header
            payload = self._buf[start : start + length]
            self._pos = start + length
            self.bytes_read += header + length
            yield tag, payload
