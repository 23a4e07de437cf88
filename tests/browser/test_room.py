"""The live room in two browsers: a host runs the console, a viewer watches, chats, asks, waits
for a link drop to open at the same server instant, and is banned."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.browser.conftest import screenshot
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def api_sign_up(http: httpx.Client, role: str, name: str, **extra: Any) -> dict[str, Any]:
    body = {
        "email": f"{role}-{uuid.uuid4().hex[:8]}@example.com",
        "password": PASSWORD,
        "display_name": name,
        "role": role,
        **extra,
    }
    resp = http.post("/api/v1/auth/signup", json=body)
    assert resp.status_code == 201, resp.text
    out = dict(resp.json())
    out["email"] = body["email"]
    out["headers"] = {"Authorization": f"Bearer {out['token']}"}
    return out


def live_show(http: httpx.Client) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A merchant's product in a host's show that is live now; returns (show, host, product)."""
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
                },
                {
                    "sku": "TEA-250G",
                    "options": {"规格": "250g"},
                    "price": "89.00",
                    "list_price": "129.00",
                    "stock": 30,
                },
            ],
        },
        headers=merchant["headers"],
    )
    assert product.status_code == 201, product.text
    host = api_sign_up(http, "host", "阿杰 Jay")
    start = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    show = http.post(
        "/api/v1/shows",
        json={
            "title": "周末茶会 Weekend tea",
            "planned_start": start,
            "product_ids": [product.json()["id"]],
        },
        headers=host["headers"],
    )
    assert show.status_code == 201, show.text
    live = http.post(f"/api/v1/shows/{show.json()['id']}/go-live", headers=host["headers"])
    assert live.status_code == 200, live.text
    return show.json(), host, product.json()


def log_in(page: Any, email: str, next_url: str) -> None:
    page.goto(f"/login?next={next_url}")
    page.locator('input[name="email"]').fill(email)
    page.locator('input[name="password"]').fill(PASSWORD)
    page.locator('button[type="submit"]').click()
    page.wait_for_url(re.compile(r"^https?://[^/]+" + re.escape(next_url) + "$"))


def test_room_drop_chat_questions_and_ban(new_page: Callable[..., Any], live_server: str) -> None:
    from playwright.sync_api import expect

    with httpx.Client(base_url=live_server, timeout=10.0) as http:
        show, host_account, product = live_show(http)
        viewer_account = api_sign_up(http, "viewer", "小美 Mei")
    show_id = show["id"]
    room_url = f"/shows/{show_id}/live"

    # An anonymous visitor: the preview of a live show leads to the room, which asks to log in.
    visitor = new_page()
    visitor.goto(f"/shows/{show_id}")
    expect(visitor).to_have_url(re.compile(rf"/shows/{show_id}/live$"))
    expect(visitor.locator("#conn")).to_be_hidden()
    expect(visitor.locator("#chat-login")).to_have_text(re.compile("登录后参与聊天"))
    expect(visitor.locator("#chat-form")).to_have_count(0)

    # The viewer logs in and lands in the room; the host opens the console.
    viewer = new_page()
    log_in(viewer, viewer_account["email"], room_url)
    expect(viewer.locator("#conn")).to_be_hidden()
    expect(viewer.locator("#bag-count")).to_have_text("1")

    host = new_page()
    log_in(host, host_account["email"], f"/host/shows/{show_id}/console")
    expect(host.locator("#conn")).to_have_attribute("data-status", "open")
    expect(host.locator("#state-badge")).to_have_attribute("data-state", "live")
    expect(host.locator("#countdown")).to_have_value("3000")

    # 上链接: a 3 s countdown. The viewer's card shows at once with a locked button that unlocks
    # at opens_at on the server's clock.
    row = host.locator(f'.cl-item[data-product-id="{product["id"]}"]')
    row.locator('[data-act="explain"]').click()
    expect(viewer.locator("#explain-label")).to_contain_text("桂花乌龙茶")
    row.locator('[data-act="drop"]').click()
    card = viewer.locator('#product-card[data-mode="drop"]')
    expect(card).to_be_visible()
    buy = viewer.locator("#buy")
    expect(buy).to_be_disabled()
    expect(buy).to_have_text(re.compile(r"^[123] 秒后开抢$"))
    locked = viewer.evaluate(
        "() => window.lcRoom.serverNow() < Number(document.getElementById('product-card')"
        ".dataset.opensAt)"
    )
    assert locked is True
    screenshot(viewer, "room-drop-countdown")
    expect(row.locator('[data-f="drop"]')).to_be_visible()
    screenshot(host, "console-products")
    expect(buy).to_be_enabled(timeout=6000)
    expect(buy).to_have_text("马上抢")
    opened_late_ms = viewer.evaluate(
        "() => window.lcRoom.serverNow() - Number(document.getElementById('product-card')"
        ".dataset.opensAt)"
    )
    assert 0 <= opened_late_ms < 1500
    buy.click()
    sheet = viewer.locator("#buy-sheet")
    expect(sheet).to_be_visible()
    expect(sheet.locator(".variant-chip")).to_have_count(2)
    expect(sheet).to_contain_text("加入购物车")
    screenshot(viewer, "room-product-sheet")
    sheet.locator("[data-close]").click()
    expect(sheet).to_be_hidden()

    # The viewer chats and asks; user text stays text.
    chat_form = viewer.locator("#chat-form")
    chat_form.locator('input[name="text"]').fill("主播好！<b>来了</b>")
    chat_form.locator('input[name="text"]').press("Enter")
    expect(viewer.locator(".chat-line.is-mine", has_text="<b>来了</b>")).to_be_visible()
    chat_form.locator(".q-toggle").click()
    chat_form.locator('input[name="text"]').fill("250g 的可以冷泡吗？")
    chat_form.locator(".send-btn").click()
    expect(viewer.locator(".chat-line.is-question", has_text="冷泡")).to_be_visible()
    for _ in range(5):
        viewer.locator("#like").click()
    expect(viewer.locator("#like-total")).to_have_text("5")

    host.locator("#tab-chat").click()
    chat_list = host.locator("#console-chat")
    expect(chat_list.locator(".cc-line", has_text="<b>来了</b>")).to_be_visible()
    expect(chat_list.locator(".cc-line", has_text="冷泡")).to_be_visible()
    expect(host.locator("#stat-likes")).to_have_text("5")
    screenshot(host, "console-chat")

    # The host answers the question; the viewer sees the answer in Q&A.
    host.locator("#tab-qa").click()
    question = host.locator(".cq-item", has_text="冷泡")
    expect(question.locator(".q-state")).to_have_text("待回答")
    question.locator('input[name="answer"]').fill("可以的，冷泡 4 小时口感最好")
    question.locator('.cq-form button[type="submit"]').click()
    expect(host.locator(".cq-item", has_text="冷泡").locator(".q-state")).to_have_text("已回答")
    screenshot(host, "console")

    viewer.locator("#open-qa").click()
    qa = viewer.locator("#qa-sheet")
    expect(qa).to_be_visible()
    item = qa.locator(".qa-item", has_text="冷泡")
    expect(item.locator(".q-state")).to_have_text("已回答")
    expect(item.locator(".qa-answer")).to_contain_text("冷泡 4 小时口感最好")
    screenshot(viewer, "room-qa")
    qa.locator("[data-close]").click()
    viewer.locator("#open-bag").click()
    expect(viewer.locator("#bag-sheet .bag-item")).to_have_count(1)
    expect(viewer.locator("#bag-sheet .bag-item .bag-tag")).to_be_visible()  # explaining
    screenshot(viewer, "room-bag")
    viewer.locator("#bag-sheet [data-close]").click()
    screenshot(viewer, "room")

    # The host bans the viewer; the viewer's lines vanish and the next one is refused.
    host.locator("#tab-chat").click()
    line = host.locator(".cc-line", has_text="<b>来了</b>")
    line.locator('[data-act="ban"]').click()
    host.locator("#confirm [data-f='ok']").click()
    expect(host.locator(".cc-line", has_text="<b>来了</b>")).to_have_count(0)
    expect(viewer.locator(".chat-line.is-mine")).to_have_count(0)
    chat_form.locator('input[name="text"]').fill("还在吗？")
    chat_form.locator('input[name="text"]').press("Enter")
    expect(viewer.locator("#room-msg")).to_have_text("你已被主播禁止在本场直播发言")
    screenshot(viewer, "room-banned")

    # Someone else's show: the console is refused.
    other = new_page()
    log_in(other, viewer_account["email"], "/")
    response = other.goto(f"/host/shows/{show_id}/console")
    assert response is not None
    assert response.status == 403
    expect(other.locator("h1")).to_have_text("没有权限")
