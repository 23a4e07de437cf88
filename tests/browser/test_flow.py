"""The pages in a real browser: a merchant lists a product, a host schedules a show with it, and
the show's preview page counts down to the start."""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from tests.browser.conftest import screenshot
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser
TZ = "Asia/Shanghai"


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 320), (255, 120, 150)).save(buffer, format="PNG")
    return buffer.getvalue()


def sign_up(page: Any, role: str, name: str, shop: str | None = None) -> str:
    email = f"{role}-{uuid.uuid4().hex[:8]}@example.com"
    page.goto(f"/signup?role={role}")
    form = page.locator("#signup-form")
    assert form.locator(f'input[name="role"][value="{role}"]').is_checked()
    if shop is not None:
        form.locator('input[name="merchant_name"]').fill(shop)
    form.locator('input[name="display_name"]').fill(name)
    form.locator('input[name="email"]').fill(email)
    form.locator('input[name="password"]').fill(PASSWORD)
    form.locator('button[type="submit"]').click()
    return email


def test_merchant_host_and_preview(new_page: Callable[..., Any]) -> None:
    from playwright.sync_api import expect

    # An anonymous visitor: home and the login page, which shows the API's error.
    visitor = new_page()
    visitor.goto("/")
    expect(visitor.locator("html")).to_have_attribute("lang", "zh-CN")
    screenshot(visitor, "home-empty")
    visitor.goto("/merchant/products")
    expect(visitor).to_have_url(re.compile(r"/login\?next=/merchant/products$"))
    visitor.locator('input[name="email"]').fill("nobody@example.com")
    visitor.locator('input[name="password"]').fill("wrong password")
    visitor.locator('button[type="submit"]').click()
    expect(visitor.locator('[data-role="error-code"]')).to_have_text("invalid_credentials")
    screenshot(visitor, "login")

    # The merchant signs up and lists a product with one variant, then adds stock and an image.
    merchant = new_page()
    sign_up(merchant, "merchant", "小林 Lin", shop="林家好物 Lin's Goods")
    expect(merchant).to_have_url(re.compile(r"/merchant/products$"))
    expect(merchant.locator("#product-empty")).to_be_visible()
    merchant.locator('[data-action="toggle-create"]').first.click()
    form = merchant.locator("#create-product")
    form.locator('input[name="title"]').fill("亚麻衬衫 Linen shirt")
    form.locator('select[name="category"]').select_option("fashion")
    form.locator('input[name="sku"]').fill("LS-WHITE-M")
    form.locator('input[name="opt1_name"]').fill("颜色")
    form.locator('input[name="opt1_value"]').fill("白色")
    form.locator('input[name="opt2_name"]').fill("尺码")
    form.locator('input[name="opt2_value"]').fill("M")
    form.locator('input[name="price"]').fill("129")
    form.locator('input[name="list_price"]').fill("199")
    form.locator('input[name="stock"]').fill("20")
    form.locator('button[type="submit"]').click()
    card = merchant.locator(".product-card", has_text="亚麻衬衫 Linen shirt")
    expect(card).to_be_visible()
    expect(card.locator('.price-line [data-f="price"]')).to_have_text("¥129.00")
    expect(card.locator(".variant")).to_contain_text("LS-WHITE-M")
    expect(card.locator(".list-price")).to_have_text("¥199.00")
    card.locator('.stock-form input[name="delta"]').fill("5")
    card.locator(".stock-form button").click()
    card = merchant.locator(".product-card", has_text="亚麻衬衫 Linen shirt")
    expect(card.locator('[data-f="stock"]')).to_contain_text("25")
    card.locator('input[data-act="image"]').set_input_files(
        {"name": "shirt.png", "mimeType": "image/png", "buffer": png_bytes()}
    )
    expect(card.locator('img[data-f="img"]')).to_be_visible()
    screenshot(merchant, "merchant-catalog")

    # A host signs up in another browser context and schedules a show with that product.
    host = new_page()
    sign_up(host, "host", "阿青 Qing")
    expect(host).to_have_url(re.compile(r"/host/shows$"))
    host.locator('[data-action="toggle-schedule"]').first.click()
    schedule = host.locator("#schedule-form")
    schedule.locator('input[name="title"]').fill("夏日穿搭 Summer outfits")
    schedule.locator('textarea[name="description"]').fill("<b>not bold</b> 直播间专享价")
    start = (datetime.now(ZoneInfo(TZ)) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    schedule.locator('input[name="planned_start"]').fill(start)
    schedule.locator(".pick", has_text="亚麻衬衫 Linen shirt").locator("input").check()
    schedule.locator('button[type="submit"]').click()
    expect(host.locator("#key-panel")).to_be_visible()
    expect(host.locator("#stream-key")).not_to_be_empty()
    show_card = host.locator(".host-show", has_text="夏日穿搭 Summer outfits")
    expect(show_card).to_be_visible()
    expect(show_card.locator(".thumbs li")).to_have_count(1)
    screenshot(host, "host-shows")

    # The preview page: title, lineup with price, a ticking countdown, escaped user text.
    show_card.locator('[data-f="preview"]').click()
    expect(host).to_have_url(re.compile(r"/shows/\d+$"))
    show_url = host.url
    expect(host.locator("h1.preview-title")).to_have_text("夏日穿搭 Summer outfits")
    item = host.locator(".lineup-item", has_text="亚麻衬衫 Linen shirt")
    expect(item).to_be_visible()
    expect(item.locator(".price")).to_have_text("¥129.00")
    countdown = host.locator("#countdown")
    expect(countdown).to_be_visible()
    expect(countdown).to_have_text(re.compile(r"^(0[12]):\d\d:\d\d$"))
    first = countdown.inner_text()
    expect(countdown).not_to_have_text(first, timeout=3000)
    expect(host.locator(".description")).to_have_text("<b>not bold</b> 直播间专享价")
    expect(host.locator("#follow")).to_have_count(0)  # a host does not follow themself
    screenshot(host, "preview")

    # The merchant, logged in, sets a reminder and follows the host from the preview.
    merchant.goto(show_url)
    merchant.locator("#remind").click()
    expect(merchant.locator("#remind")).to_have_attribute("aria-pressed", "true")
    expect(merchant.locator("#reminders")).to_have_text("1")
    merchant.locator("#follow").click()
    expect(merchant.locator("#follow")).to_have_attribute("aria-pressed", "true")
    expect(merchant.locator("#followers")).to_have_text("1")
    merchant.reload()
    expect(merchant.locator("#remind")).to_have_attribute("aria-pressed", "true")

    # An anonymous visitor sees the show on the home page; "remind me" asks them to log in.
    visitor.goto("/")
    expect(visitor.locator(".show-card", has_text="夏日穿搭 Summer outfits")).to_be_visible()
    screenshot(visitor, "home")
    visitor.goto(show_url)
    visitor.locator("#remind").click()
    expect(visitor).to_have_url(
        re.compile(r"/login\?next=%2Fshows%2F\d+$|/login\?next=/shows/\d+$")
    )

    # A host is refused the merchant's page with a friendly message; logging out works.
    host.goto("/merchant/products")
    expect(host.locator(".empty-page h1")).to_be_visible()
    screenshot(host, "forbidden")
    host.locator('[data-action="logout"]').click()
    expect(host).to_have_url(re.compile(r"/$"))
    expect(host.locator('[data-action="logout"]')).to_have_count(0)


def test_language_switch(new_page: Callable[..., Any]) -> None:
    from playwright.sync_api import expect

    page = new_page(locale="en-US")
    page.goto("/")
    heading = page.locator("#live-heading")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(heading).to_have_text("Live now")
    page.locator('.lang-switch a[data-lang="zh-CN"]').click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(heading).to_have_text("正在直播")
    expect(page.locator(".tabbar")).to_contain_text("首页")
    screenshot(page, "home-zh")
    page.goto("/login")
    expect(page.locator("h1")).to_have_text("欢迎回来")
    page.locator('.lang-switch a[data-lang="en"]').click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator("h1")).to_have_text("Welcome back")
