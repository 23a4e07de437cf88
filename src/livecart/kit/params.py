"""Path and query parameters shared by the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from livecart.kit.schemas import MAX_ID

# A row id in the path: a positive BIGINT (larger numbers are refused, not sent to the database).
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
# An optional id filter in the query string.
IdFilter = Annotated[int | None, Query(ge=1, le=MAX_ID)]


# Search text: NUL cannot be sent to PostgreSQL.
SEARCH_PATTERN = r"^[^\x00]*$"
