from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from livecart.features.catalog.schemas import ProductOut
from livecart.kit.schemas import Id, In, Out, UtcInstant

MAX_LINEUP = 100
ShowTitle = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
ProductId = Id


class ShowIn(In):
    title: ShowTitle
    description: str = Field(default="", max_length=2000)
    planned_start: UtcInstant
    product_ids: list[ProductId] = Field(default_factory=list, max_length=MAX_LINEUP)


class ShowPatch(In):
    title: ShowTitle | None = None
    description: str | None = Field(default=None, max_length=2000)
    planned_start: UtcInstant | None = None


class LineupIn(In):
    product_ids: list[ProductId] = Field(max_length=MAX_LINEUP)


class ShowHostOut(Out):
    id: int
    display_name: str
    avatar_url: str | None
    followers_count: int


class LineupItemOut(Out):
    position: int
    product: ProductOut


class ShowOut(Out):
    id: int
    title: str
    description: str
    cover_url: str | None
    planned_start: datetime
    state: Literal["scheduled", "live", "ended", "cancelled"]
    started_at: datetime | None
    ended_at: datetime | None
    reminders_count: int
    reminded: bool = False
    host: ShowHostOut
    lineup: list[LineupItemOut]


class StreamKeyOut(Out):
    show_id: int
    stream_key: str
    hint: str


class ShowCreatedOut(ShowOut):
    stream_key: str


class ReminderOut(Out):
    show_id: int
    reminded: bool
    reminders_count: int
