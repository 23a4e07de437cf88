"""The one source of time. Everything is timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """Normalise a datetime to aware UTC; a naive value is taken to be UTC already
    (SQLite hands back naive datetimes)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def to_ms(moment: datetime) -> int:
    """Milliseconds since the Unix epoch: the room protocol's time unit."""
    return int(as_utc(moment).timestamp() * 1000)
