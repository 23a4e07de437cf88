from __future__ import annotations

import httpx

from tests.conftest import create_product, sign_up


async def test_merchant_lists_a_product_and_host_schedules_a_show(
    client: httpx.AsyncClient,
) -> None:
    merchant = await sign_up(client, "merchant")
    product = await create_product(client, merchant)
    assert product["variants"][0]["stock"] == 10
    host = await sign_up(client, "host")
    resp = await client.post(
        "/api/v1/shows",
        json={
            "title": "Tee night",
            "planned_start": "2099-01-01T12:00:00Z",
            "product_ids": [product["id"]],
        },
        headers=host.headers,
    )
    assert resp.status_code == 422, resp.text  # too far ahead
    assert resp.json()["code"] == "planned_start_too_far"
