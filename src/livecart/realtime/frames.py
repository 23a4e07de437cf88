"""Server-to-client WebSocket frames, built once per event and written to every connection."""

from __future__ import annotations

import struct

OP_TEXT = 0x1
FIN = 0x80


def text_frame(payload: bytes) -> bytes:
    """An unmasked, unfragmented text frame (RFC 6455 §5.2); servers never mask."""
    n = len(payload)
    if n < 126:
        return bytes((FIN | OP_TEXT, n)) + payload
    if n < 1 << 16:
        return struct.pack("!BBH", FIN | OP_TEXT, 126, n) + payload
    return struct.pack("!BBQ", FIN | OP_TEXT, 127, n) + payload
