"""Shipping, receipt, refunds and who may do what; the merchant's CSV export."""

from __future__ import annotations

import csv
import io

import httpx
from fastapi import FastAPI

from tests.conftest import assert_error, image_bytes, sign_up
from tests.orders.conftest import (
    Shop,
    checkout,
    deliver_notifications,
    order,
    pay_in_sandbox,
    stock_of,
)

SHIPMENT = {"carrier": "顺丰 SF", "tracking_number": "SF1234567890"}


async def paid_order(app: FastAPI, client: httpx.AsyncClient, shop: Shop, quantity: int = 1) -> int:
    resp = await checkout(client, shop.buyer, shop.variant_id, quantity)
    order_id = int(resp.json()[0]["id"])
    await pay_in_sandbox(client, shop.buyer, order_id)
    await deliver_notifications(app, client)
    assert (await order(client, shop.buyer, order_id))["status"] == "paid"
    return order_id


async def test_ship_deliver_and_confirm(
    app: FastAPI, client: httpx.AsyncClient, shop: Shop
) -> None:
    order_id = await paid_order(app, client, shop)
    base = f"/api/v1/merchants/me/orders/{order_id}"
    shipped = await client.post(f"{base}/ship", json=SHIPMENT, headers=shop.merchant.headers)
    assert shipped.status_code == 200, shipped.text
    assert (shipped.json()["status"], shipped.json()["carrier"]) == ("shipped", "顺丰 SF")
    assert_error(
        await client.post(f"{base}/ship", json=SHIPMENT, headers=shop.merchant.headers),
        409,
        "order_state",
    )
    delivered = await client.post(f"{base}/deliver", headers=shop.merchant.headers)
    assert delivered.json()["status"] == "delivered"
    done = await client.post(
        f"/api/v1/orders/{order_id}/confirm-receipt", headers=shop.buyer.headers
    )
    assert done.json()["status"] == "completed"


async def test_refund_approved_with_restock(
    app: FastAPI, client: httpx.AsyncClient, shop: Shop
) -> None:
    order_id = await paid_order(app, client, shop, 2)
    assert await stock_of(client, shop) == 8
    resp = await client.post(
        f"/api/v1/orders/{order_id}/refund-request",
        json={"reason": "颜色不对 wrong colour"},
        headers=shop.buyer.headers,
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["refund"]["status"] == "requested"
    assert_error(
        await client.post(
            f"/api/v1/orders/{order_id}/refund-request",
            json={"reason": "again"},
            headers=shop.buyer.headers,
        ),
        409,
        "refund_open",
    )
    base = f"/api/v1/merchants/me/orders/{order_id}"
    assert_error(
        await client.post(f"{base}/ship", json=SHIPMENT, headers=shop.merchant.headers),
        409,
        "refund_open",
    )
    decided = await client.post(
        f"{base}/refund-decision",
        json={"approve": True, "restock": True},
        headers=shop.merchant.headers,
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["refund"]["status"] == "approved"
    assert decided.json()["payment_status"] == "refunding"
    await deliver_notifications(app, client)
    got = await order(client, shop.buyer, order_id)
    assert (got["status"], got["payment_status"], got["refund"]["status"]) == (
        "refunded",
        "refunded",
        "refunded",
    )
    assert await stock_of(client, shop) == 10
    await deliver_notifications(app, client)  # any duplicate restocks nothing
    assert await stock_of(client, shop) == 10


async def test_refund_rejected_keeps_the_order(
    app: FastAPI, client: httpx.AsyncClient, shop: Shop
) -> None:
    order_id = await paid_order(app, client, shop)
    await client.post(
        f"/api/v1/orders/{order_id}/refund-request",
        json={"reason": "changed my mind"},
        headers=shop.buyer.headers,
    )
    resp = await client.post(
        f"/api/v1/merchants/me/orders/{order_id}/refund-decision",
        json={"approve": False, "note": "已发货 already packed"},
        headers=shop.merchant.headers,
    )
    got = resp.json()
    assert (got["status"], got["refund"]["status"], got["refund"]["note"]) == (
        "paid",
        "rejected",
        "已发货 already packed",
    )
    assert await stock_of(client, shop) == 9


async def test_orders_by_refund_state_with_shop_and_picture(
    app: FastAPI, client: httpx.AsyncClient, shop: Shop
) -> None:
    """The merchant's "refunds to decide" list holds orders whose latest refund is requested; a
    rejected refund asked again is to decide again. Items carry the product's first picture."""
    picture = await client.post(
        f"/api/v1/products/{shop.product['id']}/images",
        files={"file": ("a.png", image_bytes("PNG"), "image/png")},
        headers=shop.merchant.headers,
    )
    assert picture.status_code == 201, picture.text
    asked, untouched = await paid_order(app, client, shop), await paid_order(app, client, shop)
    mine = "/api/v1/merchants/me/orders"

    async def ids(refund: str, who: dict[str, str] = shop.merchant.headers) -> list[int]:
        path = mine if who is shop.merchant.headers else "/api/v1/orders"
        resp = await client.get(path, params={"refund": refund}, headers=who)
        assert resp.status_code == 200, resp.text
        return [o["id"] for o in resp.json()["items"]]

    async def ask() -> None:
        resp = await client.post(
            f"/api/v1/orders/{asked}/refund-request",
            json={"reason": "too small"},
            headers=shop.buyer.headers,
        )
        assert resp.status_code == 201, resp.text

    await ask()
    assert await ids("requested") == [asked]
    assert await ids("requested", shop.buyer.headers) == [asked]
    await client.post(
        f"{mine}/{asked}/refund-decision", json={"approve": False}, headers=shop.merchant.headers
    )
    assert (await ids("requested"), await ids("rejected")) == ([], [asked])
    await ask()
    assert (await ids("requested"), await ids("rejected")) == ([asked], [])
    listed = (await client.get(mine, headers=shop.merchant.headers)).json()["items"]
    assert {o["id"] for o in listed} == {asked, untouched}
    for got in listed:
        assert got["merchant_name"] == "Test Shop"
        assert got["items"][0]["image_url"] == picture.json()["images"][0]["url"]
    bad = await client.get(mine, params={"refund": "maybe"}, headers=shop.merchant.headers)
    assert bad.status_code == 422


async def test_nobody_acts_on_someone_elses_order(
    app: FastAPI, client: httpx.AsyncClient, shop: Shop
) -> None:
    order_id = await paid_order(app, client, shop)
    other_buyer = await sign_up(client, "viewer")
    other_merchant = await sign_up(client, "merchant", merchant_name="Rival")
    host = await sign_up(client, "host")
    for actor in (other_buyer, other_merchant, host):
        assert_error(
            await client.get(f"/api/v1/orders/{order_id}", headers=actor.headers),
            404,
            "order_not_found",
        )
        assert_error(
            await client.post(
                f"/api/v1/orders/{order_id}/refund-request",
                json={"reason": "mine?"},
                headers=actor.headers,
            ),
            404,
            "order_not_found",
        )
    resp = await client.post(
        f"/api/v1/merchants/me/orders/{order_id}/ship",
        json=SHIPMENT,
        headers=other_merchant.headers,
    )
    assert_error(resp, 404, "order_not_found")
    for actor in (other_buyer, host, shop.buyer):
        assert_error(
            await client.get("/api/v1/merchants/me/orders", headers=actor.headers),
            403,
            "merchant_required",
        )
        assert_error(
            await client.post(
                f"/api/v1/merchants/me/orders/{order_id}/ship", json=SHIPMENT, headers=actor.headers
            ),
            403,
            "merchant_required",
        )
    rival = await client.get("/api/v1/merchants/me/orders", headers=other_merchant.headers)
    assert rival.json()["items"] == []
    mine = await client.get("/api/v1/merchants/me/orders", headers=shop.merchant.headers)
    assert [o["id"] for o in mine.json()["items"]] == [order_id]
    # the merchant may read its own order
    assert (await order(client, shop.merchant, order_id))["id"] == order_id
    assert (await order(client, shop.buyer, order_id))["status"] == "paid"


async def test_bad_shipment_input(app: FastAPI, client: httpx.AsyncClient, shop: Shop) -> None:
    order_id = await paid_order(app, client, shop)
    for body in ({}, {"carrier": "SF", "tracking_number": "a b"}, {**SHIPMENT, "extra": 1}):
        assert_error(
            await client.post(
                f"/api/v1/merchants/me/orders/{order_id}/ship",
                json=body,
                headers=shop.merchant.headers,
            ),
            422,
            "validation_error",
        )
    assert (await order(client, shop.buyer, order_id))["status"] == "paid"


async def test_csv_export_opens_in_excel(
    app: FastAPI, client: httpx.AsyncClient, shop: Shop
) -> None:
    await paid_order(app, client, shop)
    evil = await checkout(client, shop.buyer, shop.variant_id, 1)
    assert evil.status_code == 201
    resp = await client.get("/api/v1/merchants/me/orders.csv", headers=shop.merchant.headers)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/csv")
    assert resp.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(resp.content.decode("utf-8-sig"))))
    assert len(rows) == 2
    assert rows[0]["ship_to_name"] == "王小明"
    assert "真丝围巾" in rows[0]["items"]
    assert {r["status"] for r in rows} == {"paid", "awaiting_payment"}
    paid_only = await client.get(
        "/api/v1/merchants/me/orders.csv?status=paid", headers=shop.merchant.headers
    )
    assert len(list(csv.DictReader(io.StringIO(paid_only.content.decode("utf-8-sig"))))) == 1


def test_csv_cells_never_run_as_formulas() -> None:
    from livecart.features.orders.export import cell

    assert cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert cell("+1") == "'+1"
    assert cell("王") == "王"
    assert cell(None) == ""
