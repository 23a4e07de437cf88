"""/api/v1/shows."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Request, UploadFile, status

from livecart.db.deps import UowDep
from livecart.errors import NotFound
from livecart.features.accounts.deps import CurrentUser, OptionalUser
from livecart.features.shows import service
from livecart.features.shows.presenter import show_out, shows_out
from livecart.features.shows.repository import ShowsRepository
from livecart.features.shows.schemas import (
    LineupIn,
    ReminderOut,
    ShowCreatedOut,
    ShowIn,
    ShowOut,
    ShowPatch,
    StreamKeyOut,
)
from livecart.kit.images import check_image
from livecart.kit.pagination import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    decode_time_cursor,
    encode_cursor,
    encode_time_cursor,
    page_request,
)
from livecart.kit.params import IdFilter, IdPath
from livecart.kit.schemas import ERROR_RESPONSES, Page

router = APIRouter(prefix="/api/v1/shows", tags=["shows"], responses=ERROR_RESPONSES)
StateFilter = Literal["scheduled", "live", "ended", "cancelled"]


def _ctx(uow: UowDep) -> service.ShowsContext:
    return service.ShowsContext(ShowsRepository(uow.session))


@router.get("")
async def list_shows(
    uow: UowDep,
    viewer: OptionalUser,
    state: list[StateFilter] | None = Query(None),
    host_id: IdFilter = None,
    order: Literal["newest", "upcoming"] = "newest",
    cursor: str | None = None,
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> Page[ShowOut]:
    """Shows, newest first; `order=upcoming` sorts by planned start, soonest first."""
    ctx = _ctx(uow)
    upcoming = order == "upcoming"
    page = page_request(None if upcoming else cursor, limit)
    rows = await ctx.shows.shows(
        page,
        states=list(state) if state else None,
        host_id=host_id,
        upcoming=upcoming,
        after_start=decode_time_cursor(cursor) if upcoming else None,
    )
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        next_cursor = (
            encode_time_cursor(last.planned_start, last.id) if upcoming else encode_cursor(last.id)
        )
    return Page[ShowOut](items=await shows_out(ctx, rows, viewer), next_cursor=next_cursor)


@router.post("", status_code=status.HTTP_201_CREATED)
async def schedule_show(data: ShowIn, user: CurrentUser, uow: UowDep) -> ShowCreatedOut:
    """Schedule a show. The response carries the stream key; it is not shown again."""
    ctx = _ctx(uow)
    show, key = await service.schedule_show(ctx, user, data)
    out = await show_out(ctx, show, user)
    return ShowCreatedOut(**out.model_dump(), stream_key=key)


@router.get("/{show_id}")
async def get_show(show_id: IdPath, uow: UowDep, viewer: OptionalUser) -> ShowOut:
    ctx = _ctx(uow)
    show = await ctx.shows.show(show_id)
    if show is None:
        raise NotFound("show", show_id=show_id)
    return await show_out(ctx, show, viewer)


@router.patch("/{show_id}")
async def update_show(show_id: IdPath, data: ShowPatch, user: CurrentUser, uow: UowDep) -> ShowOut:
    ctx = _ctx(uow)
    return await show_out(ctx, await service.update_show(ctx, user, show_id, data), user)


@router.put("/{show_id}/lineup")
async def set_lineup(show_id: IdPath, data: LineupIn, user: CurrentUser, uow: UowDep) -> ShowOut:
    """Replace the lineup; products must be open to hosts or from the host's own merchant."""
    ctx = _ctx(uow)
    return await show_out(ctx, await service.set_lineup(ctx, user, show_id, data.product_ids), user)


@router.post("/{show_id}/cover")
async def upload_cover(
    show_id: IdPath, file: UploadFile, request: Request, user: CurrentUser, uow: UowDep
) -> ShowOut:
    settings = request.app.state.settings
    ctx = _ctx(uow)
    await service.hosted_show(ctx, user, show_id)
    image = check_image(
        await file.read(settings.max_upload_bytes + 1), max_bytes=settings.max_upload_bytes
    )
    show = await service.set_cover(ctx, user, show_id, image, request.app.state.storage)
    return await show_out(ctx, show, user)


@router.post("/{show_id}/stream-key")
async def rotate_stream_key(show_id: IdPath, user: CurrentUser, uow: UowDep) -> StreamKeyOut:
    """Make a new stream key; the old one stops working at once."""
    show, key = await service.rotate_stream_key(_ctx(uow), user, show_id)
    return StreamKeyOut(show_id=show.id, stream_key=key, hint=show.stream_key_hint)


async def _remind(show_id: int, user: CurrentUser, uow: UowDep, *, on: bool) -> ReminderOut:
    show = await service.set_reminder(_ctx(uow), user, show_id, on=on)
    return ReminderOut(show_id=show.id, reminded=on, reminders_count=show.reminders_count)


@router.put("/{show_id}/reminder")
async def remind_me(show_id: IdPath, user: CurrentUser, uow: UowDep) -> ReminderOut:
    """Ask to be reminded when the show starts. Idempotent."""
    return await _remind(show_id, user, uow, on=True)


@router.delete("/{show_id}/reminder")
async def cancel_reminder(show_id: IdPath, user: CurrentUser, uow: UowDep) -> ReminderOut:
    return await _remind(show_id, user, uow, on=False)
