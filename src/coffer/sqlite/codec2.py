"""Row blocks of the SQLite logical stream, format version 2: MessagePack through msgspec.

Rules (every rule keeps a block's bytes a function of its rows alone):

- A *block* record (tag ``B``) carries up to :data:`BLOCK_ROWS` rows of one section as the
  concatenated MessagePack encodings of the rows, each row an array of its values, followed by
  the row count as 4 bytes big-endian. The count sits at the end so that a block whose rows are
  appended to keeps its first bytes (content-defined chunks before the change stay the same).
- Values: NULL → nil, INTEGER → int (msgspec's shortest form), REAL → float 64 (so ``-0.0`` and
  ``±inf`` survive), TEXT → str (valid UTF-8), BLOB → bin, TEXT whose bytes are not valid UTF-8
  → ext type 1 holding those bytes (decoded as :class:`~coffer.sqlite.codec.RawText`).
- Decoding is strict about bytes: the block is decoded in C and encoded again; any byte that
  differs from what the encoder makes (non-shortest integers, float 32, unknown ext types,
  invalid UTF-8 in a str, trailing bytes) raises :class:`~coffer.sqlite.codec.LogicalFormatError`,
  so equal rows always have equal bytes, as in version 1. Values of other MessagePack kinds
  (arrays, maps inside a row) survive the re-encoding but fail the rebuild's parameter binding
  (also a ``LogicalFormatError``); booleans, which this encoder never writes, are not looked for
  value by value (that check would cost more than the decoding) and would be stored as 0/1.

Theory: version 1 encoded every value in Python (~1.4 s of the 138 MB bench database's dump,
~2.2 s of its restore); here a row is one C call to encode and a block one C call to decode.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

from msgspec import DecodeError
from msgspec.msgpack import Decoder, Encoder, Ext

from coffer.sqlite.codec import LogicalFormatError, RawText

TAG_BLOCK = ord("B")
EXT_RAW_TEXT = 1
BLOCK_ROWS = 1_000
BLOCK_BYTES = 1 << 20
_COUNT = struct.Struct(">I")
_ARRAY32 = b"\xdd"


def _enc_hook(obj: Any) -> Any:
    if isinstance(obj, RawText):
        return Ext(EXT_RAW_TEXT, bytes(obj))
    if isinstance(obj, bytearray | memoryview):
        return bytes(obj)
    raise TypeError(f"cannot encode a {type(obj).__name__}")


_ENCODER = Encoder(enc_hook=_enc_hook)


def raw_text_factory(data: bytes) -> str | RawText:
    """sqlite3 ``text_factory`` for tables holding TEXT that is not valid UTF-8 (slow path)."""
    try:
        return data.decode()
    except UnicodeDecodeError:
        return RawText(data)


class BlockWriter:
    """Accumulates rows; :meth:`take` returns finished block payloads."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._rows = 0

    @property
    def rows(self) -> int:
        return self._rows

    def add(self, row: Sequence[Any]) -> bool:
        """Append one row; True when the block is full (call :meth:`take`)."""
        _ENCODER.encode_into(row, self._buf, -1)
        self._rows += 1
        return self._rows >= BLOCK_ROWS or len(self._buf) >= BLOCK_BYTES

    def take(self) -> bytes | None:
        """The block payload of the rows added since the last take, or None if there are none."""
        if not self._rows:
            return None
        payload = bytes(self._buf) + _COUNT.pack(self._rows)
        self._buf = bytearray()
        self._rows = 0
        return payload


def whole_block(rows: Sequence[Sequence[Any]]) -> bytes | None:
    """The block payload of ``rows`` in one C call, when they make one block by the rules
    (at most :data:`BLOCK_ROWS` rows, under :data:`BLOCK_BYTES` bytes); else None."""
    if not rows or len(rows) > BLOCK_ROWS:
        return None
    data = _ENCODER.encode(rows)
    body = memoryview(data)[_array_header_len(len(rows)) :]
    if len(body) >= BLOCK_BYTES:
        return None
    return bytes(body) + _COUNT.pack(len(rows))


def encode_block(rows: Sequence[Sequence[Any]]) -> bytes:
    """One block payload for ``rows`` (tests, vectors)."""
    writer = BlockWriter()
    for row in rows:
        writer.add(row)
    payload = writer.take()
    return payload if payload is not None else _COUNT.pack(0)


def decode_block(payload: bytes | memoryview) -> tuple[list[list[Any]], bool]:
    """Rows of a block payload and whether any value is :class:`RawText`; strict."""
    if len(payload) < _COUNT.size:
        raise LogicalFormatError("truncated block")
    data = payload if type(payload) is bytes else bytes(payload)
    decoder = _Decoding()
    try:
        rows = decoder.decode(b"".join((_ARRAY32, data[-4:], memoryview(data)[:-4])))
    except (DecodeError, ValueError) as exc:
        raise LogicalFormatError(f"bad row block: {exc}") from None
    again = _ENCODER.encode(rows)
    head = _array_header_len(len(rows))
    # one memcmp: comparing memoryviews goes item by item (a third of the decode's time)
    if len(again) - head != len(data) - 4 or not data.startswith(memoryview(again)[head:]):
        raise LogicalFormatError("row block is not in canonical form")
    return rows, decoder.raw


def _array_header_len(n: int) -> int:
    return 1 if n < 16 else 3 if n < 1 << 16 else 5


class _Decoding:
    """One block's decode; ``raw`` tells whether an ext value (TEXT that is not UTF-8) came up."""

    def __init__(self) -> None:
        self.raw = False
        self.decode = Decoder(ext_hook=self._ext).decode

    def _ext(self, code: int, data: memoryview) -> Any:
        if code != EXT_RAW_TEXT:
            raise LogicalFormatError(f"unknown ext type {code}")
        self.raw = True
        return RawText(data)
