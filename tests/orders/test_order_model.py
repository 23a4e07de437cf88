"""A model check of orders: random sequences of checkouts, payments (their notifications late,
doubled and shuffled), expiries, cancellations, shipping and refunds against the real API, the
sandbox provider and the database, compared after every step with a few lines of plain Python.

What must always hold: every order is in the state the model says; stock is conserved (what is
on the shelf plus what unpaid orders hold plus what was sold and not restocked is what there was);
a payment that reaches an order no longer awaiting it is paid back; nothing happens twice."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from livecart.app import expire_orders_once
from livecart.features.orders.models import Order
from livecart.kit.clock import utcnow
from tests.conftest import Actor, create_product, sign_up
from tests.orders.conftest import checkout, deliver_notifications, pay_in_sandbox

STOCK = 6
REFUNDABLE = {"paid", "shipped", "delivered", "completed"}


@dataclass
class ModelOrder:
    quantity: int
    status: str = "awaiting_payment"
    paid_at_provider: bool = False  # pressed pay; the notification may not have come yet
    refund: str | None = None
    restock: bool = False
    payment: str | None = None


@dataclass
class Model:
    stock: int = STOCK
    orders: list[ModelOrder] = field(default_factory=list)

    def checkout(self, quantity: int) -> int:
        if quantity > self.stock:
            return 409
        self.stock -= quantity
        self.orders.append(ModelOrder(quantity))
        return 201

    def release(self, order: ModelOrder, status: str) -> int:
        if order.status != "awaiting_payment":
            return 409
        order.status = status
        self.stock += order.quantity
        return 200

    def notifications_arrive(self) -> None:
        for order in self.orders:
            if order.paid_at_provider and order.payment == "pending":
                if order.status == "awaiting_payment":
                    order.status, order.payment = "paid", "succeeded"
                else:  # too late: the provider pays it back
                    order.payment = "refunded"
            if order.refund == "approved":
                order.refund, order.status, order.payment = "refunded", "refunded", "refunded"
                if order.restock:
                    self.stock += order.quantity

    def ship(self, order: ModelOrder) -> int:
        if order.status != "paid" or order.refund == "requested" or order.refund == "approved":
            return 409
        order.status = "shipped"
        return 200

    def request_refund(self, order: ModelOrder) -> int:
        if order.status not in REFUNDABLE or order.refund in ("requested", "approved"):
            return 409
        order.refund = "requested"
        return 201

    def decide(self, order: ModelOrder, approve: bool, restock: bool) -> int:
        if order.refund != "requested":
            return 409
        if approve:
            order.refund, order.restock, order.payment = "approved", restock, "refunding"
        else:
            order.refund = "rejected"
        return 200


Op = tuple[str, int, int, bool]
KINDS = ["checkout", "pay", "pay", "deliver", "expire", "cancel", "ship", "refund", "refund"]
ops = st.lists(
    st.tuples(
        st.sampled_from(KINDS),
        st.integers(0, 3),  # which order (or how many units for a checkout)
        st.integers(0, 9),  # notification shuffle seed; for a refund: ask only, approve, reject
        st.booleans(),  # pay: notifications at once; refund: restock
    ),
    min_size=1,
    max_size=14,
).map(lambda script: [("checkout", 1, 0, False), *script])
_stage: dict[str, Any] = {}


async def _actors(client: httpx.AsyncClient) -> tuple[Actor, Actor]:
    if "merchant" not in _stage:  # the database is not wiped between examples
        _stage["merchant"] = await sign_up(client, "merchant")
        _stage["buyer"] = await sign_up(client, "viewer")
    return _stage["merchant"], _stage["buyer"]


async def _expire(app: FastAPI, order_id: int) -> None:
    async with app.state.session_factory() as session:
        await session.execute(
            update(Order)
            .where(Order.id == order_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await session.commit()

    await expire_orders_once(app)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(script=ops)
async def test_orders_agree_with_the_model(
    client: httpx.AsyncClient, session_app: FastAPI, script: list[Op]
) -> None:
    app = session_app
    merchant, buyer = await _actors(client)
    product = await create_product(
        client,
        merchant,
        variants=[{"sku": "M", "options": {}, "price": "10.00", "stock": STOCK}],
    )
    variant_id = product["variants"][0]["id"]
    model = Model()
    ids: list[int] = []
    for kind, n, seed, flag in script:
        order_id = ids[n % len(ids)] if ids else None
        mo = model.orders[n % len(ids)] if ids else None
        if kind == "checkout":
            resp = await checkout(client, buyer, variant_id, n + 1)
            assert resp.status_code == model.checkout(n + 1), resp.text
            if resp.status_code == 201:
                ids.append(resp.json()[0]["id"])
        elif order_id is None or mo is None:
            continue
        elif kind == "pay":
            if mo.status != "awaiting_payment":
                resp = await client.post(
                    f"/api/v1/orders/{order_id}/pay", json={}, headers=buyer.headers
                )
                assert resp.status_code == 409, resp.text
            elif not mo.paid_at_provider:
                await pay_in_sandbox(client, buyer, order_id)
                mo.paid_at_provider, mo.payment = True, "pending"
                if flag:
                    await deliver_notifications(app, client, seed)
                    model.notifications_arrive()
        elif kind == "deliver":
            await deliver_notifications(app, client, seed)
            await deliver_notifications(app, client, seed + 1)  # refunds asked meanwhile
            model.notifications_arrive()
        elif kind == "expire":
            if mo.status == "awaiting_payment":
                await _expire(app, order_id)
                model.release(mo, "expired")
        elif kind == "cancel":
            resp = await client.post(f"/api/v1/orders/{order_id}/cancel", headers=buyer.headers)
            assert resp.status_code == model.release(mo, "cancelled"), resp.text
        elif kind == "ship":
            resp = await client.post(
                f"/api/v1/merchants/me/orders/{order_id}/ship",
                json={"carrier": "SF", "tracking_number": f"SF{order_id:08d}"},
                headers=merchant.headers,
            )
            assert resp.status_code == model.ship(mo), resp.text
        elif kind == "refund":
            resp = await client.post(
                f"/api/v1/orders/{order_id}/refund-request",
                json={"reason": "model says so"},
                headers=buyer.headers,
            )
            assert resp.status_code == model.request_refund(mo), resp.text
            if seed % 3:  # the merchant decides: approve (1) or reject (2)
                approve = seed % 3 == 1
                resp = await client.post(
                    f"/api/v1/merchants/me/orders/{order_id}/refund-decision",
                    json={"approve": approve, "restock": flag},
                    headers=merchant.headers,
                )
                assert resp.status_code == model.decide(mo, approve, flag), resp.text
        await _agree(client, buyer, product["id"], ids, model)
    # In the end every notification arrives.
    await deliver_notifications(app, client)
    await deliver_notifications(app, client)
    model.notifications_arrive()
    await _agree(client, buyer, product["id"], ids, model)


async def _agree(
    client: httpx.AsyncClient, buyer: Actor, product_id: int, ids: list[int], model: Model
) -> None:
    stock = (await client.get(f"/api/v1/products/{product_id}")).json()["variants"][0]["stock"]
    assert stock == model.stock
    for order_id, mo in zip(ids, model.orders, strict=True):
        got = (await client.get(f"/api/v1/orders/{order_id}", headers=buyer.headers)).json()
        assert got["status"] == mo.status, (order_id, got, mo)
        assert got["payment_status"] == mo.payment, (order_id, got, mo)
        assert (got["refund"] or {}).get("status") == mo.refund, (order_id, got, mo)
    held = sum(o.quantity for o in model.orders if o.status == "awaiting_payment")
    sold = sum(
        o.quantity
        for o in model.orders
        if o.status in REFUNDABLE or (o.status == "refunded" and not o.restock)
    )
    assert stock + held + sold == STOCK
