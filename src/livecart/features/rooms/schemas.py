from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from livecart.kit.schemas import In, Out

Word = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
MAX_BLOCKED_WORDS = 500


class BlockedWordsIn(In):
    words: list[Word] = Field(max_length=MAX_BLOCKED_WORDS)


class BlockedWordsOut(Out):
    words: list[str]


class ModeratorOut(Out):
    id: int
    display_name: str


class ExplanationOut(Out):
    id: int
    product_id: int
    started_at: datetime
    ended_at: datetime | None
