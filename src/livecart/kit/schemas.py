"""Base models for the wire: inputs refuse unknown fields, lists come as cursor pages."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from livecart.kit.clock import as_utc

T = TypeVar("T")


MAX_ID = 2**63 - 1  # ids are BIGINT; a larger number would overflow the database driver
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


def refuse_nul(value: Any) -> Any:
    """NUL cannot be stored in PostgreSQL text, so no input text may hold one."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("text may not contain NUL characters")
    elif isinstance(value, dict):
        for key, item in value.items():
            refuse_nul(key)
            refuse_nul(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            refuse_nul(item)
    return value


class In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        return refuse_nul(value)


def _to_utc(moment: datetime) -> datetime:
    try:
        return as_utc(moment)
    except OverflowError:  # e.g. 9999-12-31T23:59-23:00 is past the last representable instant
        raise ValueError("the time is out of range once converted to UTC") from None


# A timezone-aware instant from a client, normalised to UTC (naive times are refused).
UtcInstant = Annotated[AwareDatetime, AfterValidator(_to_utc)]


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ErrorOut(BaseModel):
    """Every error response: a stable code, a message for people, and details."""

    code: str
    message: str
    data: dict[str, Any]


_ERROR_STATUSES = {
    400: "Bad request (malformed JSON, invalid cursor, ...)",
    401: "Not logged in, or the token is invalid",
    403: "Not allowed (role, or CSRF for cookie sessions)",
    404: "Not found (or not yours)",
    409: "Conflicts with the current state",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Validation error",
}
# Declared on every API router so that the schema describes the error bodies clients get.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": text} for status, text in _ERROR_STATUSES.items()
}


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None
