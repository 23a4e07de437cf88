"""The cart and order pages without a browser: who may see them, and what they show."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import httpx

from tests.conftest import Actor, create_product, in_hours, sign_up

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
SHIP_TO = {"name": "王小明", "phone": "13800138000", "region": "上海市", "address": "黄浦区 1 号"}
XSS = "<script>alert(1)</script>"


def as_browser(actor: Actor | None, lang: str = "en") -> dict[str, str]:
    headers = {**HTML, "Accept-Language": lang}
    return {**headers, "Cookie": f"lc_session={actor.token}"} if actor else headers


def page_data(html: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="lc-page">(.*?)</script>', html, re.S)
    assert match, html[:500]
    return dict(json.loads(match.group(1)))


async def order_in_show(client: httpx.AsyncClient, title: str = "Silk scarf") -> dict[str, Any]:
    """A buyer's order, placed in a host's show, of a merchant's product."""
    merchant = await sign_up(client, "merchant")
    product = await create_product(client, merchant, title=title)
    host = await sign_up(client, "host")
    show = await client.post(
        "/api/v1/shows",
        json={
            "title": "Scarf <i>night</i>",
            "planned_start": in_hours(1),
            "product_ids": [product["id"]],
        },
        headers=host.headers,
    )
    assert show.status_code == 201, show.text
    buyer = await sign_up(client, "viewer")
    resp = await client.post(
        "/api/v1/checkout",
        json={
            "ship_to": SHIP_TO,
            "items": [
                {
                    "variant_id": product["variants"][0]["id"],
                    "quantity": 2,
                    "source": "replay",
                    "show_id": show.json()["id"],
                    "video_time_ms": 754_000,
                }
            ],
        },
        headers={**buyer.headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert resp.status_code == 201, resp.text
    return {"merchant": merchant, "buyer": buyer, "order": resp.json()[0], "show": show.json()}


async def test_anonymous_visitors_are_sent_to_log_in(client: httpx.AsyncClient) -> None:
    for path in ("/cart", "/orders", "/orders?status=paid", "/orders/1", "/merchant/orders"):
        resp = await client.get(path, headers=HTML)
        assert resp.status_code == 303, path
        assert resp.headers["location"].startswith("/login?next=/"), path
    resp = await client.get("/orders?status=paid", headers=HTML)
    assert resp.headers["location"] == "/login?next=/orders%3Fstatus%3Dpaid"


async def test_merchant_orders_are_for_merchant_staff(client: httpx.AsyncClient) -> None:
    viewer = await sign_up(client, "viewer")
    resp = await client.get("/merchant/orders", headers=as_browser(viewer))
    assert resp.status_code == 403
    assert "<h1>Not available for this account</h1>" in resp.text
    zh = await client.get("/merchant/orders", headers=as_browser(viewer, "zh-CN"))
    assert zh.status_code == 403
    assert "没有权限" in zh.text


async def test_someone_elses_order_is_not_found(client: httpx.AsyncClient) -> None:
    placed = await order_in_show(client)
    other = await sign_up(client, "viewer")
    order_id = placed["order"]["id"]
    resp = await client.get(f"/orders/{order_id}", headers=as_browser(other))
    assert resp.status_code == 404
    assert "Order not found" in resp.text
    assert SHIP_TO["address"] not in resp.text
    missing = await client.get("/orders/999999", headers=as_browser(other, "zh-CN"))
    assert missing.status_code == 404
    assert "找不到这个订单" in missing.text


async def test_order_page_escapes_what_users_wrote(client: httpx.AsyncClient) -> None:
    placed = await order_in_show(client, title=XSS)
    order_id = placed["order"]["id"]
    resp = await client.get(f"/orders/{order_id}", headers=as_browser(placed["buyer"]))
    assert resp.status_code == 200
    assert XSS not in resp.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in resp.text
    assert "<i>night</i>" not in resp.text
    assert "Scarf &lt;i&gt;night&lt;/i&gt;" in resp.text
    data = page_data(resp.text)
    assert data["order"]["items"][0]["title"] == XSS
    assert data["order"]["status"] == "awaiting_payment"
    assert data["paying"] is False
    assert data["i18n"]["orders.status.paid"] == "To ship"


async def test_order_page_shows_the_order(client: httpx.AsyncClient) -> None:
    placed = await order_in_show(client)
    order_id = placed["order"]["id"]
    resp = await client.get(
        f"/orders/{order_id}?paying=1", headers=as_browser(placed["buyer"], "zh-CN")
    )
    assert resp.status_code == 200
    text = resp.text
    assert 'id="order-status" data-status="awaiting_payment">待付款<' in text
    assert "来自回放「Scarf &lt;i&gt;night&lt;/i&gt;」12:34 处" in text
    assert 'id="pay-form"' in text
    assert 'name="address"' not in text  # the checkout gave the address
    assert "黄浦区 1 号" in text
    assert "¥98.00" in text
    assert page_data(text)["paying"] is True
    assert 'id="paying" role="status" hidden' not in text


async def test_list_and_cart_pages(client: httpx.AsyncClient) -> None:
    placed = await order_in_show(client)
    buyer, merchant = placed["buyer"], placed["merchant"]
    mine = await client.get("/orders?status=nonsense", headers=as_browser(buyer))
    assert mine.status_code == 200
    data = page_data(mine.text)
    assert data["status"] == ""
    assert data["shows"] == {str(placed["show"]["id"]): "Scarf <i>night</i>"}
    paid = await client.get("/orders?status=paid", headers=as_browser(buyer))
    assert page_data(paid.text)["status"] == "paid"
    assert 'href="/orders?status=paid" data-status="paid" aria-current="page"' in paid.text

    cart = await client.get("/cart", headers=as_browser(buyer))
    assert cart.status_code == 200
    assert page_data(cart.text)["cart"] == {"lines": [], "totals": {}}

    shop = await client.get(
        f"/merchant/orders?show_id={placed['show']['id']}", headers=as_browser(merchant)
    )
    assert shop.status_code == 200
    data = page_data(shop.text)
    assert data["show_id"] == placed["show"]["id"]
    assert f"orders.csv?show_id={placed['show']['id']}" in shop.text
    assert "Scarf &lt;i&gt;night&lt;/i&gt;</option>" in shop.text
    other = await client.get("/merchant/orders?show_id=424242", headers=as_browser(merchant))
    assert page_data(other.text)["show_id"] is None


async def test_csv_export_link_works_with_the_page_session(client: httpx.AsyncClient) -> None:
    placed = await order_in_show(client)
    shop = await client.get("/merchant/orders", headers=as_browser(placed["merchant"]))
    match = re.search(r'id="export-csv" download\s+href="([^"]+)"', shop.text)
    assert match, shop.text[:2000]
    resp = await client.get(match.group(1), headers=as_browser(placed["merchant"]))
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/csv")
    assert resp.content.startswith(b"\xef\xbb\xbf")


async def test_one_order_of_the_shop_and_refunds_to_decide(client: httpx.AsyncClient) -> None:
    placed = await order_in_show(client)
    merchant, order_id = placed["merchant"], placed["order"]["id"]
    one = await client.get(f"/merchant/orders/{order_id}", headers=as_browser(merchant))
    assert one.status_code == 200
    assert page_data(one.text)["order_id"] == order_id
    assert 'href="/merchant/orders">← All orders</a>' in one.text
    for who, status in ((await sign_up(client, "merchant"), 404), (placed["buyer"], 403)):
        resp = await client.get(f"/merchant/orders/{order_id}", headers=as_browser(who))
        assert resp.status_code == status
        assert SHIP_TO["address"] not in resp.text
    missing = await client.get("/merchant/orders/999999", headers=as_browser(merchant, "zh-CN"))
    assert (missing.status_code, "找不到这个订单" in missing.text) == (404, True)
    login = await client.get(f"/merchant/orders/{order_id}", headers=HTML)
    assert login.status_code == 303

    decide = await client.get("/merchant/orders?refund=requested", headers=as_browser(merchant))
    assert page_data(decide.text)["refund"] == "requested"
    assert 'data-refund="requested" aria-current="page"' in decide.text
    plain = await client.get("/merchant/orders?refund=bogus", headers=as_browser(merchant))
    assert page_data(plain.text)["refund"] is None
