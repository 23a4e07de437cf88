"""A flash sale in two browsers: the host drops one unit, two viewers race, one wins, the other
is told it is sold out."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.browser.conftest import screenshot
from tests.browser.test_room import api_sign_up, live_show, log_in

pytestmark = pytest.mark.browser


def test_two_viewers_race_for_one_unit(new_page: Callable[..., Any], live_server: str) -> None:
    from playwright.sync_api import expect

    with httpx.Client(base_url=live_server, timeout=10) as http:
        show, host, product = live_show(http)
        viewers = [api_sign_up(http, "viewer", f"观众{i}") for i in range(2)]
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
                "variant_id": product["variants"][0]["id"],
                "price": "9.90",
                "units": 1,
                "per_buyer_limit": 1,
                "countdown_ms": 2000,
            },
            headers=host["headers"],
        )
        assert resp.status_code == 201, resp.text

    sheets = []
    for page in pages:
        buy = page.locator("#buy")
        expect(buy).to_be_enabled(timeout=8000)
        buy.click()
        sheet = page.locator("#buy-sheet")
        expect(sheet).to_be_visible()
        expect(sheet.locator('[data-f="price"]')).to_have_text(re.compile(r"9\.90"))
        expect(sheet.locator('[data-f="buy"]')).to_be_enabled()
        sheets.append(sheet)
    sheets[0].locator('[data-f="buy"]').click()
    expect(sheets[0].locator('[data-f="note"]')).to_contain_text("抢到了")
    sheets[1].locator('[data-f="buy"]').click()
    expect(sheets[1].locator('[data-f="note"]')).to_contain_text("已抢光")
    screenshot(pages[0], "sale-won")
    screenshot(pages[1], "sale-sold-out")
