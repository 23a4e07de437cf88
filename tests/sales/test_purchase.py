"""Buying through the embedded gate over the API."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from livecart.app import expire_orders_once
from tests.conftest import sign_up
from tests.roomkit import Rooms, live_show
from tests.sales.conftest import buy, open_sale


async def test_a_sale_drops_into_the_room_and_sells(
    client: httpx.AsyncClient, rooms: Rooms
) -> None:
    show = await live_show(client)
    watcher = await rooms.join(show.id)
    await watcher.next("snapshot")
    sale = await open_sale(client, show, countdown_ms=0)
    dropped = await watcher.next("drop_opened")
    assert dropped["sale"]["sale_id"] == sale["id"]
    assert dropped["sale"]["price"] == "19.90"
    buyer = await sign_up(client, "viewer")
    resp = await buy(client, buyer, sale["id"], 2, key="first-try-key")
    assert resp.status_code == 201, resp.text
    claim = resp.json()
    assert (claim["status"], claim["quantity"], claim["total"]) == ("awaiting_payment", 2, "39.80")
    again = await buy(client, buyer, sale["id"], 2, key="first-try-key")
    assert again.status_code == 200
    assert again.json() == claim
    reused = await buy(client, buyer, sale["id"], 1, key="first-try-key")
    assert (reused.status_code, reused.json()["code"]) == (422, "idempotency_key_reused")
    over = await buy(client, buyer, sale["id"], 1)
    assert (over.status_code, over.json()["code"]) == (409, "buyer_limit_reached")
    assert (await client.get(f"/api/v1/sales/{sale['id']}")).json()["left"] == 3
    tick = await watcher.next("tick")
    while tick["stock"].get(f"sale:{sale['id']}") != 3:
        tick = await watcher.next("tick")


async def test_too_early_closed_and_refused_sales(client: httpx.AsyncClient) -> None:
    show = await live_show(client)
    sale = await open_sale(client, show, countdown_ms=60_000)
    buyer = await sign_up(client, "viewer")
    early = await buy(client, buyer, sale["id"])
    assert (early.status_code, early.json()["code"]) == (425, "sale_not_open")
    too_many = await buy(client, buyer, sale["id"], 3)
    assert too_many.status_code == 422
    anon = await client.post(
        f"/api/v1/sales/{sale['id']}/purchase",
        json={"quantity": 1},
        headers={"Idempotency-Key": "anonymous-1"},
    )
    assert anon.status_code == 401
    no_key = await client.post(
        f"/api/v1/sales/{sale['id']}/purchase", json={"quantity": 1}, headers=buyer.headers
    )
    assert no_key.status_code == 422
    stranger = await sign_up(client, "host")
    resp = await client.post(
        f"/api/v1/shows/{show.id}/sales",
        headers=stranger.headers,
        json={"variant_id": sale["variant_id"], "price": "1", "units": 1},
    )
    assert resp.status_code == 404
    resp = await client.post(
        f"/api/v1/shows/{show.id}/sales",
        headers=show.host.headers,
        json={"variant_id": sale["variant_id"], "price": "1", "units": 10_000},
    )
    assert (resp.status_code, resp.json()["code"]) == (409, "not_enough_stock")
    resp = await client.post(
        f"/api/v1/shows/{show.id}/sales",
        headers=show.host.headers,
        json={"variant_id": 10**9, "price": "1", "units": 1},
    )
    assert resp.status_code == 404


async def test_concurrent_buyers_never_oversell(client: httpx.AsyncClient) -> None:
    show = await live_show(client)
    sale = await open_sale(client, show, units=7, per_buyer_limit=2)
    buyers = [await sign_up(client, "viewer") for _ in range(12)]
    attempts = [buy(client, b, sale["id"], q) for b in buyers for q in (1, 2)]
    results = await asyncio.gather(*attempts)
    won = [r.json() for r in results if r.status_code == 201]
    codes = {r.json()["code"] for r in results if r.status_code != 201}
    assert codes <= {"sold_out", "buyer_limit_reached"}
    assert sum(c["quantity"] for c in won) == 7
    state = (await client.get(f"/api/v1/sales/{sale['id']}")).json()
    assert (state["left"], state["phase"]) == (0, "sold_out")
    late = await buy(client, buyers[0], sale["id"])
    assert (late.status_code, late.json()["code"]) == (409, "sold_out")


async def test_unpaid_claims_expire_and_their_units_return(
    client: httpx.AsyncClient, session_app: FastAPI
) -> None:
    show = await live_show(client)
    sale = await open_sale(client, show, units=1, per_buyer_limit=1, payment_window_secs=60)
    first, second = await sign_up(client, "viewer"), await sign_up(client, "viewer")
    assert (await buy(client, first, sale["id"])).status_code == 201
    assert (await buy(client, second, sale["id"])).json()["code"] == "sold_out"
    state = session_app.state
    await state.sale_gate.writer.idle()  # PostgreSQL: the orders follow the answers
    async with state.session_factory() as session:  # the deadline passes
        from sqlalchemy import update

        from livecart.features.orders.models import Order
        from livecart.kit.clock import utcnow

        await session.execute(
            update(Order).where(Order.sale_id == sale["id"]).values(expires_at=utcnow())
        )
        await session.commit()
    assert await expire_orders_once(session_app) == 1
    assert (await client.get(f"/api/v1/sales/{sale['id']}")).json()["left"] == 1
    assert (await buy(client, second, sale["id"])).status_code == 201
