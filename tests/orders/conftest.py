"""Orders fixtures: a shop with a product, a buyer, and the sandbox provider's notifications
delivered on demand (through the app's real webhook endpoint)."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from livecart.features.orders import jobs
from livecart.kit.clock import utcnow
from tests.conftest import Actor, create_product, sign_up

SHIP_TO = {"name": "王小明", "phone": "13800138000", "region": "上海市", "address": "黄浦区 1 号"}


@dataclass
class Shop:
    merchant: Actor
    buyer: Actor
    product: dict[str, Any]

    @property
    def variant_id(self) -> int:
        return int(self.product["variants"][0]["id"])


@pytest.fixture
async def shop(client: httpx.AsyncClient) -> Shop:
    merchant = await sign_up(client, "merchant")
    buyer = await sign_up(client, "viewer")
    product = await create_product(client, merchant, title="真丝围巾 silk scarf")
    return Shop(merchant, buyer, product)


async def stock_of(client: httpx.AsyncClient, shop: Shop) -> int:
    resp = await client.get(f"/api/v1/products/{shop.product['id']}")
    assert resp.status_code == 200, resp.text
    return int(resp.json()["variants"][0]["stock"])


async def checkout(
    client: httpx.AsyncClient,
    buyer: Actor,
    variant_id: int,
    quantity: int = 1,
    *,
    key: str | None = None,
    **line: Any,
) -> httpx.Response:
    return await client.post(
        "/api/v1/checkout",
        json={
            "ship_to": SHIP_TO,
            "items": [{"variant_id": variant_id, "quantity": quantity, **line}],
        },
        headers={**buyer.headers, "Idempotency-Key": key or uuid.uuid4().hex},
    )


async def pay_in_sandbox(
    client: httpx.AsyncClient, buyer: Actor, order_id: int, *, outcome: str = "pay"
) -> str:
    """Open the payment page and press pay (or decline) there; returns the charge ref."""
    resp = await client.post(f"/api/v1/orders/{order_id}/pay", json={}, headers=buyer.headers)
    assert resp.status_code == 200, resp.text
    pay_url = resp.json()["pay_url"]
    page = await client.get(pay_url)
    assert page.status_code == 200
    done = await client.post(pay_url, data={"outcome": outcome})
    assert done.status_code == 303
    return str(pay_url.rsplit("/", 1)[1])


async def deliver_notifications(app: FastAPI, client: httpx.AsyncClient, seed: int = 1) -> int:
    """Everything the sandbox owes, delivered now (duplicates and shuffled order included)."""
    total = 0
    for _ in range(5):
        sent = await jobs.deliver_sandbox_once(
            app.state.session_factory,
            client,
            app.state.settings.resolved_secret_key,
            random.Random(seed),
            now=utcnow() + timedelta(hours=1),
        )
        total += sent
        if not sent:
            break
    return total


async def order(client: httpx.AsyncClient, actor: Actor, order_id: int) -> dict[str, Any]:
    resp = await client.get(f"/api/v1/orders/{order_id}", headers=actor.headers)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())
