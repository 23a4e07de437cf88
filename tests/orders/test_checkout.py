"""The bag and checkout: attribution kept, units held, idempotent, bad input refused."""

from __future__ import annotations

import uuid

import httpx

from tests.conftest import assert_error, schedule_show, sign_up
from tests.orders.conftest import SHIP_TO, Shop, checkout, stock_of


async def test_bag_lines_add_up_and_keep_attribution(client: httpx.AsyncClient, shop: Shop) -> None:
    host = await sign_up(client, "host")
    show = await schedule_show(client, host)
    add = {"variant_id": shop.variant_id, "quantity": 2}
    resp = await client.post("/api/v1/cart/items", json=add, headers=shop.buyer.headers)
    assert resp.status_code == 200, resp.text
    replay = {
        **add,
        "quantity": 1,
        "source": "replay",
        "show_id": show["id"],
        "video_time_ms": 61_500,
    }
    resp = await client.post("/api/v1/cart/items", json=replay, headers=shop.buyer.headers)
    (line,) = resp.json()["lines"]
    assert line["quantity"] == 3
    assert (line["source"], line["show_id"], line["video_time_ms"]) == (
        "replay",
        show["id"],
        61_500,
    )
    assert resp.json()["totals"] == {"CNY": "147.00"}

    resp = await client.patch(
        f"/api/v1/cart/items/{shop.variant_id}", json={"quantity": 0}, headers=shop.buyer.headers
    )
    assert resp.json()["lines"] == []


async def test_bag_refuses_bad_lines(client: httpx.AsyncClient, shop: Shop) -> None:
    h = shop.buyer.headers
    for body, status, code in [
        ({"variant_id": shop.variant_id, "quantity": 0}, 422, "validation_error"),
        ({"variant_id": shop.variant_id, "quantity": -3}, 422, "validation_error"),
        ({"variant_id": shop.variant_id, "quantity": 10**9}, 422, "validation_error"),
        ({"variant_id": 999_999}, 404, "variant_not_found"),
        ({"variant_id": shop.variant_id, "source": "live"}, 422, "validation_error"),
        (
            {"variant_id": shop.variant_id, "source": "replay", "show_id": 999_999},
            404,
            "show_not_found",
        ),
    ]:
        assert_error(await client.post("/api/v1/cart/items", json=body, headers=h), status, code)
    assert_error(await client.get("/api/v1/cart"), 401, "unauthorized")
    assert (await client.get("/api/v1/cart", headers=h)).json()["lines"] == []


async def test_checkout_from_the_bag_holds_units(client: httpx.AsyncClient, shop: Shop) -> None:
    h = shop.buyer.headers
    await client.post(
        "/api/v1/cart/items", json={"variant_id": shop.variant_id, "quantity": 3}, headers=h
    )
    key = uuid.uuid4().hex
    resp = await client.post(
        "/api/v1/checkout", json={"ship_to": SHIP_TO}, headers={**h, "Idempotency-Key": key}
    )
    assert resp.status_code == 201, resp.text
    (order,) = resp.json()
    assert order["status"] == "awaiting_payment"
    assert order["total"] == "147.00"
    assert order["source"] == "direct"
    assert order["items"][0]["title"] == "真丝围巾 silk scarf"
    assert await stock_of(client, shop) == 7
    assert (await client.get("/api/v1/cart", headers=h)).json()["lines"] == []

    again = await client.post(
        "/api/v1/checkout", json={"ship_to": SHIP_TO}, headers={**h, "Idempotency-Key": key}
    )
    assert again.status_code == 200, again.text
    assert [o["id"] for o in again.json()] == [order["id"]]
    assert await stock_of(client, shop) == 7

    other = await checkout(client, shop.buyer, shop.variant_id, 1, key=key)
    assert_error(other, 422, "idempotency_key_reused")
    assert await stock_of(client, shop) == 7


async def test_checkout_refuses_more_than_stock_and_changes_nothing(
    client: httpx.AsyncClient, shop: Shop
) -> None:
    assert_error(await checkout(client, shop.buyer, shop.variant_id, 11), 409, "insufficient_stock")
    assert await stock_of(client, shop) == 10
    mine = await client.get("/api/v1/orders", headers=shop.buyer.headers)
    assert mine.json()["items"] == []
    resp = await client.post(
        "/api/v1/checkout",
        json={"ship_to": SHIP_TO},
        headers={**shop.buyer.headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert_error(resp, 422, "cart_empty")
    bad_phone = {**SHIP_TO, "phone": "call me"}
    resp = await client.post(
        "/api/v1/checkout",
        json={"ship_to": bad_phone, "items": [{"variant_id": shop.variant_id}]},
        headers={**shop.buyer.headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert_error(resp, 422, "validation_error")


async def test_one_order_per_merchant_and_show(client: httpx.AsyncClient, shop: Shop) -> None:
    from tests.conftest import create_product

    other_merchant = await sign_up(client, "merchant", merchant_name="Other")
    other = await create_product(client, other_merchant, title="Tea")
    items = [
        {"variant_id": shop.variant_id, "quantity": 1},
        {"variant_id": other["variants"][0]["id"], "quantity": 2},
    ]
    resp = await client.post(
        "/api/v1/checkout",
        json={"ship_to": SHIP_TO, "items": items},
        headers={**shop.buyer.headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert resp.status_code == 201, resp.text
    merchants = sorted(o["merchant_id"] for o in resp.json())
    assert merchants == sorted(
        [shop.merchant.user["merchant_id"], other_merchant.user["merchant_id"]]
    )


async def test_attribution_from_a_replay(client: httpx.AsyncClient, shop: Shop) -> None:
    host = await sign_up(client, "host")
    show = await schedule_show(client, host)
    resp = await checkout(
        client,
        shop.buyer,
        shop.variant_id,
        source="replay",
        show_id=show["id"],
        video_time_ms=90_000,
    )
    assert resp.status_code == 201, resp.text
    (order,) = resp.json()
    assert (order["source"], order["show_id"], order["host_id"], order["video_time_ms"]) == (
        "replay",
        show["id"],
        host.id,
        90_000,
    )


async def test_a_flash_sale_win_becomes_an_order(client: httpx.AsyncClient) -> None:
    from tests.roomkit import live_show as make_live_show
    from tests.sales.conftest import buy, open_sale

    live_show = await make_live_show(client)
    sale = await open_sale(client, live_show, units=3)
    buyer = await sign_up(client, "viewer")
    claim = await buy(client, buyer, sale["id"], 2)
    assert claim.status_code == 201, claim.text
    resp = await client.get(
        f"/api/v1/sales/claims/{claim.json()['id']}/order", headers=buyer.headers
    )
    assert resp.status_code == 200, resp.text
    order = resp.json()
    assert (
        order["status"],
        order["source"],
        order["show_id"],
        order["host_id"],
        order["sale_id"],
    ) == (
        "awaiting_payment",
        "live",
        live_show.id,
        live_show.host.id,
        sale["id"],
    )
    assert order["total"] == "39.80"
    assert order["ship_to"] is None
    assert order["expires_at"] == claim.json()["expires_at"]
    stranger = await sign_up(client, "viewer")
    other = await client.get(
        f"/api/v1/sales/claims/{claim.json()['id']}/order", headers=stranger.headers
    )
    assert_error(other, 404, "order_not_found")
    pay = await client.post(f"/api/v1/orders/{order['id']}/pay", json={}, headers=buyer.headers)
    assert_error(pay, 422, "ship_to_required")
    pay = await client.post(
        f"/api/v1/orders/{order['id']}/pay", json={"ship_to": SHIP_TO}, headers=buyer.headers
    )
    assert pay.status_code == 200, pay.text
