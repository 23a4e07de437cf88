"""Builds ShowOut for one or many shows with a fixed number of queries."""

from __future__ import annotations

from livecart.features.accounts.models import User
from livecart.features.catalog.service import product_out
from livecart.features.shows.models import Show
from livecart.features.shows.schemas import LineupItemOut, ShowHostOut, ShowOut
from livecart.features.shows.service import ShowsContext
from livecart.kit.storage import current_storage


async def shows_out(ctx: ShowsContext, shows: list[Show], viewer: User | None) -> list[ShowOut]:
    ids = [s.id for s in shows]
    hosts = await ctx.accounts.hosts_by_ids([s.host_id for s in shows])
    lineups = await ctx.shows.lineups(ids)
    product_ids = sorted({item.product_id for items in lineups.values() for item in items})
    products = {p.id: p for p in await ctx.catalog.products_by_ids(product_ids)}
    reminded = await ctx.shows.reminded_show_ids(viewer.id, ids) if viewer else set()
    result = []
    for show in shows:
        user, profile = hosts[show.host_id]
        result.append(
            ShowOut(
                id=show.id,
                title=show.title,
                description=show.description,
                cover_url=current_storage().url(show.cover_key),
                planned_start=show.planned_start,
                state=show.state,
                started_at=show.started_at,
                ended_at=show.ended_at,
                reminders_count=show.reminders_count,
                reminded=show.id in reminded,
                host=ShowHostOut(
                    id=user.id,
                    display_name=user.display_name,
                    avatar_url=current_storage().url(profile.avatar_key),
                    followers_count=profile.followers_count,
                ),
                lineup=[
                    LineupItemOut(
                        position=item.position, product=product_out(products[item.product_id])
                    )
                    for item in lineups[show.id]
                    if item.product_id in products
                ],
            )
        )
    return result


async def show_out(ctx: ShowsContext, show: Show, viewer: User | None) -> ShowOut:
    return (await shows_out(ctx, [show], viewer))[0]
