"""The buyer's product page, without a browser: attribution carried, names escaped, 404s."""

from __future__ import annotations

import httpx

from tests.conftest import create_product, schedule_show, sign_up
from tests.web.test_room_pages import HTML, page_data


async def test_product_page_carries_the_replay_attribution(client: httpx.AsyncClient) -> None:
    merchant = await sign_up(client, "merchant")
    product = await create_product(client, merchant, title="<script>alert(1)</script> 围巾")
    host = await sign_up(client, "host")
    show = await schedule_show(client, host)
    url = f"/products/{product['id']}?source=replay&show_id={show['id']}&video_time_ms=61500"
    resp = await client.get(url, headers=HTML)
    assert resp.status_code == 200
    assert "<script>alert(1)</script>" not in resp.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; 围巾" in resp.text
    data = page_data(resp.text)
    assert data["attribution"] == {
        "source": "replay",
        "show_id": show["id"],
        "video_time_ms": 61500,
    }
    assert [v["id"] for v in data["variants"]] == [product["variants"][0]["id"]]
    assert 'id="from-replay"' in resp.text


async def test_attribution_without_a_show_is_direct(client: httpx.AsyncClient) -> None:
    merchant = await sign_up(client, "merchant")
    product = await create_product(client, merchant)
    resp = await client.get(f"/products/{product['id']}?source=live", headers=HTML)
    assert page_data(resp.text)["attribution"] == {
        "source": "direct",
        "show_id": None,
        "video_time_ms": None,
    }


async def test_missing_archived_and_bad_products(client: httpx.AsyncClient) -> None:
    merchant = await sign_up(client, "merchant")
    product = await create_product(client, merchant)
    archived = await client.patch(
        f"/api/v1/products/{product['id']}", json={"archived": True}, headers=merchant.headers
    )
    assert archived.status_code == 200, archived.text
    for path in (f"/products/{product['id']}", "/products/999999", f"/products/{2**70}"):
        assert (await client.get(path, headers=HTML)).status_code == 404
    bad = await client.get(f"/products/{product['id']}?video_time_ms=-1", headers=HTML)
    assert bad.status_code == 422
