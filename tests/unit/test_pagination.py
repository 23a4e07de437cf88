"""Opaque cursors round-trip; anything else is refused with `invalid_cursor`, never a crash."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from livecart.errors import AppError
from livecart.kit.pagination import (
    MAX_LIMIT,
    decode_cursor,
    decode_time_cursor,
    encode_cursor,
    encode_time_cursor,
    page_request,
)

MAX_KEY = 2**63 - 1
keys = st.integers(min_value=0, max_value=MAX_KEY)
aware_datetimes = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5))]),
)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@given(keys)
def test_cursor_round_trips(key: int) -> None:
    cursor = encode_cursor(key)
    assert decode_cursor(cursor) == key
    assert "=" not in cursor


@given(aware_datetimes, keys)
def test_time_cursor_round_trips(moment: datetime, key: int) -> None:
    decoded = decode_time_cursor(encode_time_cursor(moment, key))
    assert decoded is not None
    when, got_key = decoded
    assert got_key == key
    assert when == moment
    assert when.utcoffset() == timedelta(0)


def test_empty_cursors_mean_the_first_page() -> None:
    assert decode_cursor(None) is None
    assert decode_cursor("") is None
    assert decode_time_cursor(None) is None
    assert decode_time_cursor("") is None


def _refused(decode: object, cursor: str) -> None:
    with pytest.raises(AppError) as info:
        decode(cursor)  # type: ignore[operator]
    assert info.value.code == "invalid_cursor"
    assert info.value.status == 400


@given(st.text(min_size=1, max_size=40))
def test_garbage_cursors_are_refused_or_decode_to_a_valid_key(cursor: str) -> None:
    try:
        key = decode_cursor(cursor)
    except AppError as exc:
        assert exc.code == "invalid_cursor"
    else:
        assert key is not None
        assert 0 <= key <= MAX_KEY


@given(st.binary(min_size=1, max_size=40))
def test_garbage_time_cursors_are_refused_or_valid(raw: bytes) -> None:
    try:
        decoded = decode_time_cursor(_b64(raw))
    except AppError as exc:
        assert exc.code == "invalid_cursor"
    else:
        assert decoded is not None
        assert decoded[0].tzinfo is not None
        assert 0 <= decoded[1] <= MAX_KEY


@pytest.mark.parametrize(
    "cursor",
    [
        "!!!",
        "a",
        "ñ",
        _b64(b"x12"),
        _b64(b"k"),
        _b64(b"kabc"),
        _b64(b"k-5"),  # keys are never negative
        _b64(b"k" + b"9" * 30),  # would overflow a BIGINT
        _b64(b"\xff\xfe"),
        _b64(b"t2024-01-01T00:00:00+00:00|5"),  # a time cursor is not an id cursor
    ],
)
def test_bad_id_cursors(cursor: str) -> None:
    _refused(decode_cursor, cursor)


@pytest.mark.parametrize(
    "cursor",
    [
        "!!!",
        _b64(b"k5"),
        _b64(b"tnot-a-date|5"),
        _b64(b"t2024-01-01T00:00:00+00:00|"),
        _b64(b"t2024-01-01T00:00:00+00:00|x"),
        _b64(b"t2024-01-01T00:00:00+00:00|" + b"9" * 30),
        _b64(b"t9999-12-31T23:59:59-23:00|5"),  # leaves the datetime range in UTC
    ],
)
def test_bad_time_cursors(cursor: str) -> None:
    _refused(decode_time_cursor, cursor)


@given(st.integers(min_value=-1000, max_value=10_000))
def test_page_limit_is_clamped(limit: int) -> None:
    page = page_request(None, limit)
    assert 1 <= page.limit <= MAX_LIMIT
    assert page.after is None
