"""The text of a macOS/iOS Messages ``attributedBody``: an NSAttributedString in typedstream form.

Rules: only the string is read, never the attributes; anything that does not parse yields
``None`` (the message is then shown without text), never an exception.

Layout (NeXT/Apple "typedstream", as documented by imessage-exporter and typedstream decoders):
``\\x04\\x0bstreamtyped`` + version header, then a class chain ``NSAttributedString`` →
``NSObject``, then an ``NSString`` (or ``NSMutableString``) object whose contents are the type
string ``+`` followed by a length and UTF-8 bytes. Integers are one signed byte, or ``0x81``
followed by a little-endian u16, or ``0x82`` followed by a little-endian u32.
"""

from __future__ import annotations

import struct

MAGIC = b"\x04\x0bstreamtyped"
_MARKERS = (b"NSString", b"NSMutableString")


def read_length(data: bytes, pos: int) -> tuple[int, int]:
    """``(length, position after it)`` of a typedstream integer at ``pos``."""
    lead = data[pos]
    if lead == 0x81:
        return struct.unpack_from("<H", data, pos + 1)[0], pos + 3
    if lead == 0x82:
        return struct.unpack_from("<I", data, pos + 1)[0], pos + 5
    return lead, pos + 1


def attributed_text(blob: bytes | None) -> str | None:
    """The plain text of an ``attributedBody`` blob, or None."""
    if not blob or not blob.startswith(MAGIC):
        return None
    for marker in _MARKERS:
        at = blob.find(marker)
        if at < 0:
            continue
        plus = blob.find(b"+", at + len(marker), at + len(marker) + 8)
        if plus < 0:
            continue
        try:
            length, start = read_length(blob, plus + 1)
        except (IndexError, struct.error):
            return None
        raw = blob[start : start + length]
        if len(raw) != length:
            return None
        return raw.decode("utf-8", "replace")
    return None


def encode_attributed(text: str) -> bytes:
    """A minimal ``attributedBody`` carrying ``text`` (for test fixtures and vectors)."""
    raw = text.encode()
    if len(raw) < 0x80:
        length = bytes([len(raw)])
    elif len(raw) < 0x10000:
        length = b"\x81" + struct.pack("<H", len(raw))
    else:
        length = b"\x82" + struct.pack("<I", len(raw))
    head = (
        MAGIC + b"\x81\xe8\x03\x84\x01@\x84\x84\x84\x12NSAttributedString\x00"
        b"\x84\x84\x08NSObject\x00\x85\x92\x84\x84\x84\x08NSString\x01\x94\x84\x01+"
    )
    attrs = (
        b"\x86\x84\x02iI\x01" + bytes([min(len(text), 127)]) + b"\x92\x84\x84\x84\x0cNSDictionary"
        b"\x00\x94\x84\x01i\x01\x92\x84\x96\x96\x1d__kIMMessagePartAttributeName\x86\x92\x84"
        b"\x84\x84\x08NSNumber\x00\x84\x84\x07NSValue\x00\x94\x84\x01*\x84\x9b\x9b\x00\x86\x86\x86"
    )
    return head + length + raw + attrs
