"""A model check of the gate: random sequences of purchases, repeats and expiries against the
real API and database, compared step by step with a few lines of plain Python."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from livecart.app import expire_orders_once
from livecart.features.orders.models import Order
from livecart.kit.clock import utcnow
from tests.conftest import Actor, sign_up
from tests.roomkit import LiveShow, live_show
from tests.sales.conftest import buy, open_sale

ALLOTTED, LIMIT, BUYERS = 4, 2, 3


@dataclass
class Model:
    left: int = ALLOTTED
    held: dict[int, int] = field(default_factory=dict)  # buyer -> units awaiting payment
    answers: dict[str, tuple[int, int]] = field(default_factory=dict)  # key -> (buyer, qty) won

    def buy(self, buyer: int, quantity: int, key: str) -> int:
        if key in self.answers:
            return 200 if self.answers[key] == (buyer, quantity) else 422
        if self.left == 0:  # the sold-out flag answers before anything else is looked at
            return 409
        if quantity > LIMIT:
            return 422
        if quantity > self.left:
            return 409
        if self.held.get(buyer, 0) + quantity > LIMIT:
            return 409
        self.left -= quantity
        self.held[buyer] = self.held.get(buyer, 0) + quantity
        self.answers[key] = (buyer, quantity)
        return 201

    def expire(self) -> None:
        self.left = ALLOTTED
        self.held.clear()


Op = tuple[str, int, int, int]  # kind, buyer, quantity, key number
ops = st.lists(
    st.tuples(
        st.sampled_from(["buy", "buy", "buy", "expire"]),
        st.integers(0, BUYERS - 1),
        st.integers(1, 3),
        st.integers(0, 5),
    ),
    max_size=20,
)
_stage: dict[str, Any] = {}


async def _stage_once(client: httpx.AsyncClient) -> tuple[LiveShow, list[Actor]]:
    """One show and three buyers for all examples (the database is not wiped between them)."""
    if "show" not in _stage:
        _stage["show"] = await live_show(client)
        _stage["buyers"] = [await sign_up(client, "viewer") for _ in range(BUYERS)]
    return _stage["show"], _stage["buyers"]


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(script=ops)
async def test_gate_agrees_with_the_model(
    client: httpx.AsyncClient, session_app: FastAPI, script: list[Op]
) -> None:
    show, buyers = await _stage_once(client)
    sale = await open_sale(client, show, units=ALLOTTED, per_buyer_limit=LIMIT)
    model = Model()
    state = session_app.state
    for kind, buyer, quantity, key_no in script:
        if kind == "expire":
            await state.sale_gate.writer.idle()  # PostgreSQL: the orders follow the answers
            async with state.session_factory() as session:
                await session.execute(
                    update(Order).where(Order.sale_id == sale["id"]).values(expires_at=utcnow())
                )
                await session.commit()
            await expire_orders_once(session_app)
            model.expire()  # a repeat still finds its claim, now expired: the first answer stands
            continue
        key = f"s{sale['id']}-b{buyer}-k{key_no}"
        resp = await buy(client, buyers[buyer], sale["id"], quantity, key=key)
        expected = model.buy(buyer, quantity, key)
        if expected == 200 and resp.status_code == 200:
            assert resp.json()["quantity"] == quantity
        assert resp.status_code == expected, (kind, buyer, quantity, key, resp.text)
        left = (await client.get(f"/api/v1/sales/{sale['id']}")).json()["left"]
        assert left == model.left >= 0
