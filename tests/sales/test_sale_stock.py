"""A flash sale's units leave the shelf when it opens and what it did not sell comes back after
it closes, so the same unit is never sold by the sale and by a checkout."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import update

from livecart.app import expire_orders_once, return_unsold_once
from livecart.features.orders.models import Order
from livecart.features.sales.models import FlashSale
from livecart.kit.clock import utcnow
from tests.conftest import assert_error, sign_up
from tests.roomkit import live_show
from tests.sales.conftest import buy, open_sale


async def shelf(client: httpx.AsyncClient, product_id: int) -> int:
    return int((await client.get(f"/api/v1/products/{product_id}")).json()["variants"][0]["stock"])


async def test_units_move_to_the_sale_and_back(
    client: httpx.AsyncClient, session_app: FastAPI
) -> None:
    show = await live_show(client)
    pid = show.product["id"]
    assert await shelf(client, pid) == 10
    sale = await open_sale(client, show, restock=False, units=6, per_buyer_limit=3)
    assert await shelf(client, pid) == 4
    buyer = await sign_up(client, "viewer")
    assert (await buy(client, buyer, sale["id"], 2)).status_code == 201
    factory = session_app.state.session_factory
    assert await return_unsold_once(session_app) == 0  # still open: nothing moves
    async with factory() as session:
        await session.execute(
            update(FlashSale).where(FlashSale.id == sale["id"]).values(closes_at=utcnow())
        )
        await session.commit()
    assert await return_unsold_once(session_app) == 4
    assert await shelf(client, pid) == 8
    assert await return_unsold_once(session_app) == 0  # once only
    await session_app.state.sale_gate.writer.idle()  # PostgreSQL: the orders follow the answers
    async with factory() as session:  # the unpaid order expires after the sale closed
        await session.execute(
            update(Order).where(Order.sale_id == sale["id"]).values(expires_at=utcnow())
        )
        await session.commit()
    assert await expire_orders_once(session_app) == 1
    assert await return_unsold_once(session_app) == 2
    assert await shelf(client, pid) == 10


async def test_a_sale_cannot_take_more_than_the_shelf(client: httpx.AsyncClient) -> None:
    show = await live_show(client)
    resp = await client.post(
        f"/api/v1/shows/{show.id}/sales",
        json={"variant_id": show.product["variants"][0]["id"], "price": "9.90", "units": 11},
        headers=show.host.headers,
    )
    assert_error(resp, 409, "not_enough_stock")
    assert await shelf(client, show.product["id"]) == 10
