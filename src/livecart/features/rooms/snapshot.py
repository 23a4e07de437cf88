"""What a viewer gets on joining: the room as it is now."""

from __future__ import annotations

from typing import Any

from livecart.features.accounts.models import User
from livecart.features.rooms.cards import chat_line, product_card
from livecart.features.rooms.service import RoomContext, RoomRole, drops_for_snapshot
from livecart.features.shows.models import Show
from livecart.kit.clock import to_ms, utcnow
from livecart.kit.money import Money

CHAT_HISTORY = 50


async def build_snapshot(
    ctx: RoomContext, show: Show, user: User | None, role: RoomRole, *, epoch: str, seq: int
) -> dict[str, Any]:
    """`seq` must be read before this is built: every event up to it is already in the data."""
    settings = await ctx.rooms.settings(show.id)
    chat = await ctx.rooms.recent_chat(
        show.id, viewer_id=user.id if user else None, limit=CHAT_HISTORY
    )
    users = await ctx.rooms.users({uid for m in chat for uid in (m.user_id, m.claimed_by) if uid})
    explaining = await ctx.rooms.open_explanation(show.id)
    drops = await drops_for_snapshot(ctx, show)
    wanted = {d.product_id for d in drops}
    if settings.pinned_product_id:
        wanted.add(settings.pinned_product_id)
    if explaining:
        wanted.add(explaining.product_id)
    products = {p.id: p for p in await ctx.catalog.products_by_ids(sorted(wanted))}
    room = ctx.hub.rooms.get(show.id)
    restriction = await ctx.rooms.restriction(show.id, user.id) if user else None
    return {
        "type": "snapshot",
        "epoch": epoch,
        "seq": seq,
        "server_time": to_ms(utcnow()),
        "show": {"id": show.id, "title": show.title, "state": show.state, "host_id": show.host_id},
        "you": {
            "id": user.id,
            "name": user.display_name,
            "role": role.value,
            "restriction": restriction.kind if restriction else None,
        }
        if user
        else {"id": None, "name": None, "role": role.value, "restriction": None},
        "pinned": product_card(products[settings.pinned_product_id]).model_dump()
        if settings.pinned_product_id in products
        else None,
        "explaining": {
            "explanation_id": explaining.id,
            "t_event": to_ms(explaining.started_at),
            "product": product_card(products[explaining.product_id]).model_dump(),
        }
        if explaining and explaining.product_id in products
        else None,
        "drops": [
            {
                "drop_id": d.id,
                "t_event": to_ms(d.t_event),
                "opens_at": to_ms(d.opens_at),
                "sale": d.offer,
                "product": {
                    **product_card(products[d.product_id]).model_dump(),
                    "price": str(
                        Money.from_minor(d.price_minor, products[d.product_id].currency).amount
                    ),
                },
            }
            for d in drops
            if d.product_id in products
        ],
        "slow_mode": settings.slow_mode_secs,
        "online": room.online if room else 0,
        "peak": room.peak if room else 0,
        "likes": room.likes if room else settings.likes,
        "chat": [chat_line(m, users).model_dump() for m in chat],
    }
