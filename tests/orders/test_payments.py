"""Paying through the sandbox provider: signed notifications handled once, in any order; a
payment that arrives after the order expired is paid back."""

from __future__ import annotations

import time
from datetime import timedelta

import httpx
import orjson
from fastapi import FastAPI
from sqlalchemy import select

from livecart.features.orders import payments
from livecart.features.orders.models import Payment
from livecart.features.orders.sandbox.models import SandboxCharge
from livecart.kit.clock import utcnow
from tests.conftest import assert_error
from tests.orders.conftest import (
    Shop,
    checkout,
    deliver_notifications,
    order,
    pay_in_sandbox,
    stock_of,
)

WEBHOOK = "/api/v1/payments/sandbox/webhook"


def signed(app: FastAPI, body: dict[str, object], *, at: int | None = None) -> dict[str, object]:
    raw = orjson.dumps(body)
    secret = payments.webhook_secret(app.state.settings.resolved_secret_key)
    return {
        "content": raw,
        "headers": {
            "content-type": "application/json",
            payments.SIGNATURE_HEADER: payments.sign(secret, raw, at=at),
        },
    }


def event(ref: str, kind: str, amount: int, event_id: str = "evt_1") -> dict[str, object]:
    data = {"charge": ref, "merchant_ref": "x", "amount": amount, "currency": "CNY"}
    return {"id": event_id, "type": kind, "created": 0, "data": data}


async def placed(client: httpx.AsyncClient, shop: Shop, quantity: int = 1) -> int:
    resp = await checkout(client, shop.buyer, shop.variant_id, quantity)
    assert resp.status_code == 201, resp.text
    return int(resp.json()[0]["id"])


async def test_pay_in_the_sandbox_and_the_notification_marks_it_paid(
    app: FastAPI, client: httpx.AsyncClient, shop: Shop
) -> None:
    order_id = await placed(client, shop)
    await pay_in_sandbox(client, shop.buyer, order_id)
    assert (await order(client, shop.buyer, order_id))["status"] == "awaiting_payment"
    assert await deliver_notifications(app, client) >= 1
    got = await order(client, shop.buyer, order_id)
    assert (got["status"], got["payment_status"]) == ("paid", "succeeded")
    assert got["paid_at"] is not None


async def test_declined_then_paid(app: FastAPI, client: httpx.AsyncClient, shop: Shop) -> None:
    order_id = await placed(client, shop)
    await pay_in_sandbox(client, shop.buyer, order_id, outcome="decline")
    await deliver_notifications(app, client)
    got = await order(client, shop.buyer, order_id)
    assert (got["status"], got["payment_status"]) == ("awaiting_payment", "failed")
    await pay_in_sandbox(client, shop.buyer, order_id)  # a new charge
    await deliver_notifications(app, client)
    assert (await order(client, shop.buyer, order_id))["status"] == "paid"


async def test_forged_stale_and_malformed_notifications_are_refused(
    app: FastAPI, client: httpx.AsyncClient, shop: Shop
) -> None:
    order_id = await placed(client, shop)
    ref = (
        (await client.post(f"/api/v1/orders/{order_id}/pay", json={}, headers=shop.buyer.headers))
        .json()["pay_url"]
        .rsplit("/", 1)[1]
    )
    body = event(ref, "payment.succeeded", 4900)
    forged = orjson.dumps(body)
    wrong = payments.sign(b"not the secret", forged)
    resp = await client.post(WEBHOOK, content=forged, headers={payments.SIGNATURE_HEADER: wrong})
    assert_error(resp, 400, "bad_signature")
    assert_error(await client.post(WEBHOOK, content=forged), 400, "bad_signature")
    stale = signed(app, body, at=int(time.time()) - 3600)
    assert_error(await client.post(WEBHOOK, **stale), 400, "bad_signature")  # type: ignore[arg-type]
    tampered = signed(app, body)
    tampered["content"] = orjson.dumps(event(ref, "payment.succeeded", 1))
    assert_error(await client.post(WEBHOOK, **tampered), 400, "bad_signature")  # type: ignore[arg-type]
    wrong_amount = signed(app, event(ref, "payment.succeeded", 1))
    assert_error(await client.post(WEBHOOK, **wrong_amount), 400, "amount_mismatch")  # type: ignore[arg-type]
    junk = signed(app, {"hello": "world"})
    assert_error(await client.post(WEBHOOK, **junk), 400, "bad_signature")  # type: ignore[arg-type]
    assert (await order(client, shop.buyer, order_id))["status"] == "awaiting_payment"


async def test_a_notification_before_the_payment_is_saved_is_retried(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    resp = await client.post(WEBHOOK, **signed(app, event("ch_unknown", "payment.succeeded", 100)))  # type: ignore[arg-type]
    assert_error(resp, 409, "payment_unknown")


async def test_replayed_and_reordered_notifications_change_nothing(
    app: FastAPI, client: httpx.AsyncClient, shop: Shop
) -> None:
    order_id = await placed(client, shop)
    ref = await pay_in_sandbox(client, shop.buyer, order_id)
    ok = event(ref, "payment.succeeded", 4900, "evt_ok")
    first = await client.post(WEBHOOK, **signed(app, ok))  # type: ignore[arg-type]
    assert first.json() == {"outcome": "paid"}
    again = await client.post(WEBHOOK, **signed(app, ok))  # type: ignore[arg-type]
    assert again.json() == {"outcome": "duplicate"}
    late_failure = event(ref, "payment.failed", 4900, "evt_failed_late")
    resp = await client.post(WEBHOOK, **signed(app, late_failure))  # type: ignore[arg-type]
    assert resp.json() == {"outcome": "ignored"}
    got = await order(client, shop.buyer, order_id)
    assert (got["status"], got["payment_status"]) == ("paid", "succeeded")
    await deliver_notifications(app, client)  # the sandbox's own copies: duplicates now
    assert (await order(client, shop.buyer, order_id))["status"] == "paid"


async def test_payment_after_expiry_is_refunded_and_units_return_once(
    app: FastAPI, client: httpx.AsyncClient, shop: Shop
) -> None:
    from livecart.app import expire_orders_once

    order_id = await placed(client, shop, 2)
    ref = await pay_in_sandbox(client, shop.buyer, order_id)  # paid at the provider...
    async with app.state.session_factory() as session:  # ...but the window closes first
        from sqlalchemy import update

        from livecart.features.orders.models import Order

        await session.execute(
            update(Order)
            .where(Order.id == order_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await session.commit()

    assert await expire_orders_once(app) == 1
    assert await stock_of(client, shop) == 10
    await deliver_notifications(app, client)  # payment.succeeded → refund asked → refund.succeeded
    await deliver_notifications(app, client)
    got = await order(client, shop.buyer, order_id)
    assert (got["status"], got["payment_status"]) == ("expired", "refunded")
    assert await stock_of(client, shop) == 10
    async with app.state.session_factory() as session:
        charge = await session.scalar(select(SandboxCharge).where(SandboxCharge.ref == ref))
        assert charge is not None and charge.status == "refunded"
        payment = await session.scalar(select(Payment).where(Payment.provider_ref == ref))
        assert payment is not None and payment.status == "refunded"


async def test_pay_refuses_what_cannot_be_paid(
    app: FastAPI, client: httpx.AsyncClient, shop: Shop
) -> None:
    order_id = await placed(client, shop)
    from tests.conftest import sign_up

    stranger = await sign_up(client, "viewer")
    resp = await client.post(f"/api/v1/orders/{order_id}/pay", json={}, headers=stranger.headers)
    assert_error(resp, 404, "order_not_found")
    cancel = await client.post(f"/api/v1/orders/{order_id}/cancel", headers=shop.buyer.headers)
    assert cancel.json()["status"] == "cancelled"
    assert await stock_of(client, shop) == 10
    resp = await client.post(f"/api/v1/orders/{order_id}/pay", json={}, headers=shop.buyer.headers)
    assert_error(resp, 409, "order_state")
    again = await client.post(f"/api/v1/orders/{order_id}/cancel", headers=shop.buyer.headers)
    assert_error(again, 409, "order_state")
    assert await stock_of(client, shop) == 10
