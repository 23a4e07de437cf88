"""Orders in a real browser: a flash sale won in the live room is paid on the sandbox page,
shipped by the merchant, refunded on request; and the cart's checkout, from the room to paid."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.browser.conftest import screenshot
from tests.browser.test_room import api_sign_up, log_in

pytestmark = pytest.mark.browser
SLOW = 30_000  # a payment or refund waits for the provider's notification


def shop_and_live_show(http: httpx.Client) -> dict[str, Any]:
    """A merchant's product in a host's show that is live now."""
    merchant = api_sign_up(http, "merchant", "林家好物", merchant_name="林家好物 Lin's Goods")
    product = http.post(
        "/api/v1/products",
        json={
            "title": "桂花乌龙茶 Osmanthus oolong",
            "category": "food",
            "open_to_hosts": True,
            "variants": [
                {
                    "sku": "TEA-100G",
                    "options": {"规格": "100g"},
                    "price": "39.90",
                    "list_price": "59.00",
                    "stock": 80,
                }
            ],
        },
        headers=merchant["headers"],
    )
    assert product.status_code == 201, product.text
    host = api_sign_up(http, "host", "阿杰 Jay")
    show = http.post(
        "/api/v1/shows",
        json={
            "title": "周末茶会 Weekend tea",
            "planned_start": (datetime.now(UTC) + timedelta(minutes=5)).isoformat(),
            "product_ids": [product.json()["id"]],
        },
        headers=host["headers"],
    )
    assert show.status_code == 201, show.text
    live = http.post(f"/api/v1/shows/{show.json()['id']}/go-live", headers=host["headers"])
    assert live.status_code == 200, live.text
    return {"show": show.json(), "host": host, "merchant": merchant, "product": product.json()}


def pay_on_sandbox(page: Any, order_path: str) -> None:
    """On the provider's hosted page: pay, and come back to the order."""
    from playwright.sync_api import expect

    page.wait_for_url(re.compile(r"/sandbox/pay/ch_[0-9a-f]+$"))
    expect(page.locator(".sandbox-amount")).to_be_visible()
    page.locator('button[name="outcome"][value="pay"]').click()
    page.wait_for_url(re.compile(re.escape(order_path) + r"(\?paying=1)?$"))


def test_flash_sale_to_refund(new_page: Callable[..., Any], live_server: str) -> None:
    from playwright.sync_api import expect

    with httpx.Client(base_url=live_server, timeout=10) as http:
        setup = shop_and_live_show(http)
        viewers = [api_sign_up(http, "viewer", f"买家{i}") for i in range(2)]
    show, host, merchant = setup["show"], setup["host"], setup["merchant"]
    room_url = f"/shows/{show['id']}/live"
    pages = []
    for account in viewers:
        page = new_page()
        log_in(page, account["email"], room_url)
        expect(page.locator("#conn")).to_be_hidden()
        pages.append(page)

    with httpx.Client(base_url=live_server, timeout=10) as http:
        resp = http.post(
            f"/api/v1/shows/{show['id']}/sales",
            json={
                "variant_id": setup["product"]["variants"][0]["id"],
                "price": "9.90",
                "units": 1,
                "per_buyer_limit": 1,
                "countdown_ms": 2000,
            },
            headers=host["headers"],
        )
        assert resp.status_code == 201, resp.text

    # Both press buy when it opens: one wins, the other is told it is sold out.
    sheets = []
    for page in pages:
        expect(page.locator("#buy")).to_be_enabled(timeout=8000)
        page.locator("#buy").click()
        sheet = page.locator("#buy-sheet")
        expect(sheet.locator('[data-f="buy"]')).to_be_enabled()
        sheets.append(sheet)
    sheets[0].locator('[data-f="buy"]').click()
    sheets[1].locator('[data-f="buy"]').click()
    for sheet in sheets:
        expect(sheet.locator('[data-f="note"]')).to_contain_text(re.compile("抢到了|已抢光"))
    won = [i for i, s in enumerate(sheets) if "抢到了" in s.locator('[data-f="note"]').inner_text()]
    assert len(won) == 1, "exactly one viewer wins the single unit"
    winner, loser = pages[won[0]], pages[1 - won[0]]
    lost_sheet = sheets[1 - won[0]]
    expect(lost_sheet.locator('[data-f="note"]')).to_contain_text("已抢光")
    expect(lost_sheet.locator('[data-f="buy"]')).to_be_disabled()
    expect(lost_sheet.locator('[data-f="buy"]')).to_have_text("已售罄")
    expect(lost_sheet.locator('[data-f="go"]')).to_have_count(0)
    screenshot(loser, "orders-sale-sold-out")
    pay_now = sheets[won[0]].locator('[data-f="go"]')
    expect(pay_now).to_have_text("去付款")
    screenshot(winner, "orders-sale-won")
    sheets[won[0]].locator("[data-close]").click()
    winner.locator("#buy").click()  # reopened, the sheet still leads to the order
    expect(pay_now).to_be_visible()

    # Pay now: the order has no address yet, so the page asks for one before paying.
    pay_now.click()
    winner.wait_for_url(re.compile(r"/orders/\d+$"))
    order_path = re.sub(r"^https?://[^/]+", "", winner.url)
    expect(winner.locator("#order-status")).to_have_text("待付款")
    expect(winner.locator("#pay-within")).to_contain_text("内付款")
    expect(winner.locator("#attribution")).to_have_text("来自直播「周末茶会 Weekend tea」")
    form = winner.locator("#pay-form")
    form.locator('button[type="submit"]').click()
    expect(form.locator('[data-role="error-message"]')).to_have_text("请填写收货地址。")
    form.locator('input[name="name"]').fill("王小明")
    form.locator('input[name="phone"]').fill("13800138000")
    form.locator('input[name="region"]').fill("浙江省 杭州市 西湖区")
    form.locator('input[name="address"]').fill("文三路 90 号 3 幢 201 室")
    screenshot(winner, "orders-pay-address")
    form.locator('button[type="submit"]').click()
    pay_on_sandbox(winner, order_path)
    expect(winner.locator("#order-status")).to_have_text("待发货", timeout=SLOW)
    expect(winner.locator('.timeline li[data-step="paid"]')).to_have_class(re.compile("is-done"))
    screenshot(winner, "orders-paid")

    # The merchant ships it with a carrier and a tracking number.
    shop = new_page()
    log_in(shop, merchant["email"], "/merchant/orders")
    order_id = order_path.rsplit("/", 1)[1]
    card = shop.locator(f'.order-card[data-order-id="{order_id}"]')
    expect(card.locator('[data-f="status"]')).to_have_text("待发货")
    expect(card.locator('[data-f="ship_to"]')).to_contain_text("王小明")
    card.locator('[data-act="open-ship"]').click()
    card.locator('input[name="carrier"]').fill("顺丰速运")
    card.locator('input[name="tracking_number"]').fill("SF1234567890")
    screenshot(shop, "orders-merchant-ship")
    card.locator('.mo-ship button[type="submit"]').click()
    expect(card.locator('[data-f="status"]')).to_have_text("已发货")
    expect(card.locator('[data-f="tracking"]')).to_contain_text("SF1234567890")

    # The buyer sees it shipped and asks for the money back.
    winner.reload()
    expect(winner.locator("#order-status")).to_have_text("已发货")
    expect(winner.locator("#tracking")).to_have_text("顺丰速运 · 运单号 SF1234567890")
    winner.locator('[data-act="refund-open"]').click()
    refund = winner.locator("#refund-form")
    refund.locator('textarea[name="reason"]').fill("包装破损，茶叶洒了")
    refund.locator('button[type="submit"]').click()
    expect(winner.locator("#refund-state")).to_have_text("退款申请已提交，等待商家处理。")
    screenshot(winner, "orders-refund-requested")

    # The merchant finds it among the refunds to decide, opens it on its own page and approves
    # (units back on sale); the buyer sees it refunded.
    shop.reload()
    shop.locator('.status-tabs a[data-refund="requested"]').click()
    listed = shop.locator(".order-card")
    expect(listed).to_have_count(1)
    listed.locator('[data-f="number"]').click()
    shop.wait_for_url(f"**/merchant/orders/{order_id}")
    card = shop.locator(f'.order-card[data-order-id="{order_id}"]')
    expect(card.locator('[data-f="refund_title"]')).to_contain_text("买家申请退款")
    expect(card.locator('[data-f="refund_reason"]')).to_contain_text("包装破损")
    screenshot(shop, "orders-merchant-refund")
    card.locator('[data-act="approve"]').click()
    expect(card.locator('[data-f="status"]')).to_have_text("已退款", timeout=SLOW)
    winner.reload()
    expect(winner.locator("#order-status")).to_have_text("已退款", timeout=SLOW)
    expect(winner.locator("#refund-state")).to_have_text("退款成功，款项已原路退回。")
    screenshot(winner, "orders-refunded")


def test_cart_checkout_to_paid(new_page: Callable[..., Any], live_server: str) -> None:
    from playwright.sync_api import expect

    with httpx.Client(base_url=live_server, timeout=10) as http:
        setup = shop_and_live_show(http)
        buyer = api_sign_up(http, "viewer", "小美 Mei")
    show = setup["show"]
    room_url = f"/shows/{show['id']}/live"
    page = new_page()
    log_in(page, buyer["email"], room_url)
    expect(page.locator("#conn")).to_be_hidden()

    # In the room: the show's products, one of them into the cart.
    page.locator("#open-bag").click()
    page.locator('#bag-list [data-f="view"]').first.click()
    sheet = page.locator("#buy-sheet")
    add = sheet.locator('[data-f="buy"]')
    expect(add).to_have_text("加入购物车")
    add.click()
    expect(sheet.locator('[data-f="note"]')).to_have_text("已加入购物车")
    screenshot(page, "orders-room-added")
    sheet.locator('[data-f="go"]').click()
    page.wait_for_url(re.compile(r"/cart$"))

    # The cart: two of them, an address, place the order; one order goes straight to paying.
    line = page.locator(".oc-line")
    expect(line).to_have_count(1)
    expect(line.locator('[data-f="from"]')).to_have_text("来自直播「周末茶会 Weekend tea」")
    line.locator('[data-act="more"]').click()
    expect(line.locator('[data-f="qty"]')).to_have_text("2")
    expect(page.locator("#cart-total")).to_have_text("¥79.80")
    form = page.locator("#checkout-form")
    form.locator('input[name="name"]').fill("小美")
    form.locator('input[name="phone"]').fill("+86 139 0000 0000")
    form.locator('input[name="region"]').fill("上海市 徐汇区")
    form.locator('input[name="address"]').fill("漕溪北路 88 号")
    screenshot(page, "orders-cart")
    form.locator('button[type="submit"]').click()
    page.wait_for_url(re.compile(r"/sandbox/pay/"))
    screenshot(page, "orders-sandbox")
    page.locator('button[name="outcome"][value="pay"]').click()
    page.wait_for_url(re.compile(r"/orders/\d+(\?paying=1)?$"))
    expect(page.locator("#order-status")).to_have_text("待发货", timeout=SLOW)
    order_path = re.sub(r"^https?://[^/]+", "", page.url)
    expect(page.locator("#attribution")).to_have_text("来自直播「周末茶会 Weekend tea」")
    expect(page.locator(".order-total .price")).to_have_text("¥79.80")

    # My orders: the paid order under "待发货"; the cart is empty now.
    page.goto("/orders")
    card = page.locator(".order-card").first
    expect(card.locator('[data-f="status"]')).to_have_text("待发货")
    expect(card.locator('[data-f="sum"]')).to_have_text("共 2 件 · 合计 ¥79.80")
    page.locator('.status-tabs a[data-status="awaiting_payment"]').click()
    expect(page.locator("#orders-empty")).to_be_visible()
    page.locator('.status-tabs a[data-status="paid"]').click()
    expect(page.locator(".order-card")).to_have_count(1)
    screenshot(page, "orders-list")
    page.goto("/cart")
    expect(page.locator("#cart-empty")).to_be_visible()
    screenshot(page, "orders-cart-empty")

    # The same pages in English.
    page.goto(f"/lang/en?next={order_path}")
    expect(page.locator("#order-status")).to_have_text("To ship")
    expect(page.locator("#attribution")).to_have_text(
        "Bought in the live show “周末茶会 Weekend tea”"
    )
    screenshot(page, "orders-order-en")
    page.goto("/orders")
    expect(page.locator(".order-card").first.locator('[data-f="status"]')).to_have_text("To ship")
    screenshot(page, "orders-list-en")


def test_declined_payment_then_cancel(new_page: Callable[..., Any], live_server: str) -> None:
    from playwright.sync_api import expect

    with httpx.Client(base_url=live_server, timeout=10) as http:
        setup = shop_and_live_show(http)
        buyer = api_sign_up(http, "viewer", "Ann")
        resp = http.post(
            "/api/v1/checkout",
            json={
                "ship_to": {
                    "name": "Ann Lee",
                    "phone": "+44 20 7946 0000",
                    "region": "London",
                    "address": "1 <b>High</b> Street",
                },
                "items": [{"variant_id": setup["product"]["variants"][0]["id"], "quantity": 1}],
            },
            headers={**buyer["headers"], "Idempotency-Key": f"decline-{buyer['user']['id']}"},
        )
        assert resp.status_code == 201, resp.text
    order_path = f"/orders/{resp.json()[0]['id']}"
    page = new_page(locale="en-GB", timezone_id="Europe/London")
    log_in(page, buyer["email"], order_path)
    expect(page.locator("#order-status")).to_have_text("Awaiting payment")
    expect(page.locator("#attribution")).to_have_text("Bought directly")
    expect(page.locator(".ship-to")).to_contain_text("1 <b>High</b> Street")

    # Declined on the provider's page: the order waits, and says the payment did not go through.
    page.locator("#pay").click()
    page.wait_for_url(re.compile(r"/sandbox/pay/"))
    page.locator('button[name="outcome"][value="decline"]').click()
    expect(page.locator("#paying")).to_have_text(
        "The payment did not go through. You can try again.", timeout=SLOW
    )
    expect(page.locator("#order-status")).to_have_text("Awaiting payment")
    screenshot(page, "orders-declined-en")

    # The buyer gives up: cancel (confirmed in the browser's dialog).
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator('[data-act="cancel"]').click()
    expect(page.locator("#order-status")).to_have_text("Cancelled")
    expect(page.locator("#pay-form")).to_have_count(0)
    expect(page.locator('.timeline li[data-step="cancelled"]')).to_be_visible()


def test_order_lists_load_more(new_page: Callable[..., Any], live_server: str) -> None:
    from playwright.sync_api import expect

    with httpx.Client(base_url=live_server, timeout=10) as http:
        setup = shop_and_live_show(http)
        buyer = api_sign_up(http, "viewer", "常客 Regular")
        for n in range(11):
            resp = http.post(
                "/api/v1/checkout",
                json={
                    "ship_to": {
                        "name": "常客",
                        "phone": "13900000000",
                        "region": "北京市",
                        "address": "朝阳区 1 号",
                    },
                    "items": [
                        {
                            "variant_id": setup["product"]["variants"][0]["id"],
                            "quantity": 1,
                            "source": "live",
                            "show_id": setup["show"]["id"],
                        }
                    ],
                },
                headers={**buyer["headers"], "Idempotency-Key": f"many-{buyer['user']['id']}-{n}"},
            )
            assert resp.status_code == 201, resp.text

    page = new_page()
    log_in(page, buyer["email"], "/orders?status=awaiting_payment")
    cards = page.locator(".order-card")
    expect(cards).to_have_count(10)
    expect(cards.first.locator('[data-f="pay"]')).to_be_visible()
    page.locator("#load-more").click()
    expect(cards).to_have_count(11)
    expect(page.locator("#load-more")).to_be_hidden()

    shop = new_page()
    log_in(shop, setup["merchant"]["email"], f"/merchant/orders?show_id={setup['show']['id']}")
    cards = shop.locator(".order-card")
    expect(cards).to_have_count(10)
    expect(cards.first.locator('[data-f="ship_to"]')).to_contain_text("常客 13900000000")
    expect(cards.first.locator('[data-act="open-ship"]')).to_be_hidden()  # not paid yet
    shop.locator("#load-more").click()
    expect(cards).to_have_count(11)
    expect(shop.locator('#show-filter select[name="show_id"]')).to_have_value(
        str(setup["show"]["id"])
    )
    shop.locator('.status-tabs a[data-status="paid"]').click()
    expect(shop.locator("#orders-empty")).to_be_visible()
    expect(shop.locator("#export-csv")).to_have_attribute(
        "href", f"/api/v1/merchants/me/orders.csv?status=paid&show_id={setup['show']['id']}"
    )
    screenshot(shop, "orders-merchant-empty")
    shop.locator('.status-tabs a[data-status="refunded"]').click()
    expect(shop.locator('.status-tabs a[data-status="refunded"]')).to_be_in_viewport()
