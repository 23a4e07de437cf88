"""Shows: schedule, edit, lineup, transitions, stream keys, reminders. Services never commit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from livecart.errors import AppError, Conflict, Forbidden, NotFound, Unauthorized
from livecart.features.accounts.models import Role, User
from livecart.features.accounts.repository import AccountsRepository
from livecart.features.accounts.service import require_role
from livecart.features.catalog import service as catalog_service
from livecart.features.catalog.repository import CatalogRepository
from livecart.features.shows import rules
from livecart.features.shows.models import Show
from livecart.features.shows.repository import ShowsRepository
from livecart.features.shows.schemas import MAX_LINEUP, ShowIn, ShowPatch
from livecart.kit.clock import as_utc, utcnow
from livecart.kit.ids import hash_secret, new_stream_key
from livecart.kit.images import CheckedImage
from livecart.kit.storage import Storage

T = TypeVar("T")


def checked(rule: Callable[[], T], *, status: int = 422) -> T:
    """Run a pure rule, turning its refusal into an AppError with the rule's code."""
    try:
        return rule()
    except rules.ShowRuleError as exc:
        raise AppError(exc.code, str(exc), status=status) from exc


class ShowsContext:
    """The repositories a show operation needs, over one session."""

    def __init__(self, shows: ShowsRepository) -> None:
        self.shows = shows
        self.catalog = CatalogRepository(shows.session)
        self.accounts = AccountsRepository(shows.session)


async def hosted_show(ctx: ShowsContext, actor: User | None, show_id: int) -> Show:
    """The show, if the actor is its host (or an admin). Another host's show is 404."""
    if actor is None:
        raise Unauthorized()
    show = await ctx.shows.show(show_id)
    if show is None or (show.host_id != actor.id and actor.role != Role.ADMIN.value):
        raise NotFound("show", show_id=show_id)
    return show


async def schedule_show(ctx: ShowsContext, actor: User | None, data: ShowIn) -> tuple[Show, str]:
    """Schedule a show; returns it with its stream key, which is shown this once."""
    host = require_role(actor, Role.HOST)
    if await ctx.accounts.host_profile(host.id) is None:  # e.g. an admin: shows need a host
        raise Forbidden("Only a host can schedule a show.", code="role_required")
    planned = as_utc(data.planned_start)
    checked(lambda: rules.check_planned_start(planned, now=utcnow()))
    key = new_stream_key()
    show = Show(
        host_id=host.id,
        title=data.title,
        description=data.description,
        planned_start=planned,
        state=rules.ShowState.SCHEDULED.value,
        stream_key_hash=hash_secret(key),
        stream_key_hint=key[-4:],
        reminders_count=0,
    )
    ctx.shows.session.add(show)
    await ctx.shows.session.flush()
    if data.product_ids:
        await _set_lineup(ctx, host, show, data.product_ids)
    return show, key


async def update_show(ctx: ShowsContext, actor: User | None, show_id: int, data: ShowPatch) -> Show:
    show = await hosted_show(ctx, actor, show_id)
    checked(lambda: rules.check_editable(rules.ShowState(show.state)), status=409)
    for field in data.model_fields_set:
        if getattr(data, field) is None:
            raise AppError(
                "field_not_nullable", f"{field} cannot be null.", status=422, data={"field": field}
            )
    if data.planned_start is not None:
        if show.state != rules.ShowState.SCHEDULED.value:
            raise Conflict("show_already_started", "A show that has started keeps its start time.")
        planned = as_utc(data.planned_start)
        checked(lambda: rules.check_planned_start(planned, now=utcnow()))
        show.planned_start = planned
    if data.title is not None:
        show.title = data.title
    if data.description is not None:
        show.description = data.description
    await ctx.shows.session.flush()
    return show


async def set_lineup(
    ctx: ShowsContext, actor: User | None, show_id: int, product_ids: list[int]
) -> Show:
    show = await hosted_show(ctx, actor, show_id)
    assert actor is not None
    checked(lambda: rules.check_editable(rules.ShowState(show.state)), status=409)
    await _set_lineup(ctx, actor, show, product_ids)
    return show


async def _set_lineup(ctx: ShowsContext, host: User, show: Show, product_ids: list[int]) -> None:
    checked(lambda: rules.check_lineup(product_ids, max_items=MAX_LINEUP))
    _, merchant_id = await catalog_service.host_merchant(ctx.accounts, host)
    products = {p.id: p for p in await ctx.catalog.products_by_ids(product_ids)}
    refused = [
        pid
        for pid in product_ids
        if pid not in products or not catalog_service.may_show(products[pid], merchant_id)
    ]
    if refused:
        raise AppError(
            "product_not_allowed",
            "These products do not exist or are not offered to you.",
            status=422,
            data={"product_ids": refused},
        )
    await ctx.shows.replace_lineup(show.id, product_ids)


async def transition(
    ctx: ShowsContext, actor: User | None, show_id: int, action: rules.ShowAction
) -> Show:
    show = await hosted_show(ctx, actor, show_id)
    return await apply_transition(ctx, show, action)


async def apply_transition(ctx: ShowsContext, show: Show, action: rules.ShowAction) -> Show:
    """Move an already-authorised show to its next state (409 when the rules refuse)."""
    new_state = checked(lambda: rules.next_state(rules.ShowState(show.state), action), status=409)
    now = utcnow()
    if new_state is rules.ShowState.LIVE:
        show.started_at = now
    elif new_state in (rules.ShowState.ENDED, rules.ShowState.CANCELLED):
        show.ended_at = now
    show.state = new_state.value
    await ctx.shows.session.flush()
    return show


async def rotate_stream_key(
    ctx: ShowsContext, actor: User | None, show_id: int
) -> tuple[Show, str]:
    show = await hosted_show(ctx, actor, show_id)
    if show.state in (rules.ShowState.ENDED.value, rules.ShowState.CANCELLED.value):
        raise Conflict("show_not_editable", "This show is over; it has no stream key any more.")
    key = new_stream_key()
    show.stream_key_hash, show.stream_key_hint = hash_secret(key), key[-4:]
    await ctx.shows.session.flush()
    return show, key


async def set_cover(
    ctx: ShowsContext, actor: User | None, show_id: int, image: CheckedImage, storage: Storage
) -> Show:
    show = await hosted_show(ctx, actor, show_id)
    checked(lambda: rules.check_editable(rules.ShowState(show.state)), status=409)
    show.cover_key = storage.save_image(image, folder="covers")
    await ctx.shows.session.flush()
    return show


async def set_reminder(ctx: ShowsContext, actor: User | None, show_id: int, *, on: bool) -> Show:
    if actor is None:
        raise Unauthorized("Log in to get a reminder.")
    show = await ctx.shows.show(show_id)
    if show is None:
        raise NotFound("show", show_id=show_id)
    if on:
        if show.state != rules.ShowState.SCHEDULED.value:
            raise Conflict("show_not_upcoming", "Reminders are for shows that have not started.")
        await ctx.shows.add_reminder(show.id, actor.id)
    else:
        await ctx.shows.remove_reminder(show.id, actor.id)
    await ctx.shows.session.refresh(show)
    return show


def is_upcoming(show: Show, *, now: datetime) -> bool:
    return show.state == rules.ShowState.SCHEDULED.value and as_utc(show.planned_start) >= now
