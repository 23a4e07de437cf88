"""Flash-sale fixtures: a live show whose host can open sales, and buyers."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.conftest import Actor
from tests.roomkit import LiveShow


async def open_sale(
    client: httpx.AsyncClient, show: LiveShow, *, restock: bool = True, **terms: Any
) -> dict[str, Any]:
    """Open a sale; with `restock` the merchant first puts the sale's units on the shelf (a sale
    takes its units off the shelf, and tests reuse one product for many sales)."""
    body = {
        "variant_id": show.product["variants"][0]["id"],
        "price": "19.90",
        "units": 5,
        "per_buyer_limit": 2,
        "countdown_ms": 0,
        **terms,
    }
    if restock:
        stocked = await client.post(
            f"/api/v1/variants/{body['variant_id']}/stock",
            json={"delta": body["units"]},
            headers=show.merchant.headers,
        )
        assert stocked.status_code == 200, stocked.text
    resp = await client.post(f"/api/v1/shows/{show.id}/sales", json=body, headers=show.host.headers)
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


async def buy(
    client: httpx.AsyncClient, buyer: Actor, sale_id: int, quantity: int = 1, key: str | None = None
) -> httpx.Response:
    return await client.post(
        f"/api/v1/sales/{sale_id}/purchase",
        json={"quantity": quantity},
        headers={**buyer.headers, "Idempotency-Key": key or uuid.uuid4().hex},
    )
