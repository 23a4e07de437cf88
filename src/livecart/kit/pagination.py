"""Opaque cursors for keyset pagination over ascending or descending integer keys."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

from livecart.errors import AppError
from livecart.kit.clock import as_utc

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_KEY = 2**63 - 1  # ids are BIGINT; a larger key would overflow the database driver


@dataclass(frozen=True, slots=True)
class PageRequest:
    after: int | None
    limit: int


def encode_cursor(key: int) -> str:
    return base64.urlsafe_b64encode(f"k{key}".encode()).decode().rstrip("=")


def _invalid() -> AppError:
    return AppError("invalid_cursor", "The cursor is not valid.", status=400)


def _key(text: str) -> int:
    """A non-negative BIGINT written in ASCII digits, or ValueError."""
    if not (text.isascii() and text.isdigit()):
        raise ValueError(text)
    key = int(text)
    if key > MAX_KEY:
        raise ValueError(text)
    return key


def _unpack(cursor: str) -> str:
    return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        raw = _unpack(cursor)
        if not raw.startswith("k"):
            raise ValueError(raw)
        return _key(raw[1:])
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise _invalid() from exc


def page_request(cursor: str | None, limit: int) -> PageRequest:
    return PageRequest(after=decode_cursor(cursor), limit=max(1, min(limit, MAX_LIMIT)))


def encode_time_cursor(moment: datetime, key: int) -> str:
    """A cursor for lists ordered by (time, id)."""
    raw = f"t{moment.isoformat()}|{key}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_time_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    if not cursor:
        return None
    try:
        raw = _unpack(cursor)
        if not raw.startswith("t"):
            raise ValueError(raw)
        stamp, _, key = raw[1:].partition("|")
        return as_utc(datetime.fromisoformat(stamp)), _key(key)
    except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError) as exc:
        raise _invalid() from exc
