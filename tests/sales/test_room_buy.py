"""Buying over the room connection that is already open: the same gate as HTTP."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from livecart.features.sales import gate as gate_module
from livecart.features.sales.gate import SaleGate
from tests.conftest import sign_up
from tests.roomkit import Rooms, live_show
from tests.sales.conftest import open_sale


async def test_buy_over_the_room_connection(client: httpx.AsyncClient, rooms: Rooms) -> None:
    show = await live_show(client)
    sale = await open_sale(client, show, units=3, per_buyer_limit=2)
    buyer = await sign_up(client, "viewer")
    conn = await rooms.join(show.id, token=buyer.token)
    await conn.next("snapshot")

    await conn.send({"type": "buy", "sale_id": sale["id"], "quantity": 2, "key": "room-key-1"})
    won = await conn.next("buy_result")
    assert (won["ok"], won["key"], won["repeat"]) == (True, "room-key-1", False), won
    assert (won["claim"]["quantity"], won["claim"]["total"]) == (2, "39.80")

    await conn.send({"type": "buy", "sale_id": sale["id"], "quantity": 2, "key": "room-key-1"})
    again = await conn.next("buy_result")
    assert (again["ok"], again["repeat"], again["claim"]) == (True, True, won["claim"])

    await conn.send({"type": "buy", "sale_id": sale["id"], "quantity": 1, "key": "room-key-1"})
    reused = await conn.next("buy_result")
    assert (reused["ok"], reused["code"]) == (False, "idempotency_key_reused")

    await conn.send({"type": "buy", "sale_id": sale["id"], "key": "room-key-2"})
    over = await conn.next("buy_result")
    assert (over["ok"], over["code"]) == (False, "buyer_limit_reached")

    # The HTTP purchase sees the same gate: one unit left.
    left = (await client.get(f"/api/v1/sales/{sale['id']}")).json()["left"]
    assert left == 1


async def test_buy_refusals_over_the_room(client: httpx.AsyncClient, rooms: Rooms) -> None:
    show = await live_show(client)
    other = await live_show(client)
    sale = await open_sale(client, show, units=1, per_buyer_limit=1)
    elsewhere = await open_sale(client, other, units=1, per_buyer_limit=1)
    anonymous = await rooms.join(show.id)
    await anonymous.next("snapshot")
    await anonymous.send({"type": "buy", "sale_id": sale["id"], "key": "anon-key-1"})
    refused = await anonymous.next("buy_result")
    assert (refused["ok"], refused["code"]) == (False, "login_required")

    buyer = await sign_up(client, "viewer")
    conn = await rooms.join(show.id, token=buyer.token)
    await conn.next("snapshot")
    for bad in (
        {"type": "buy", "sale_id": sale["id"], "quantity": 0, "key": "bad-key-01"},
        {"type": "buy", "sale_id": sale["id"], "quantity": -1, "key": "bad-key-02"},
        {"type": "buy", "sale_id": sale["id"], "quantity": 10**12, "key": "bad-key-03"},
        {"type": "buy", "sale_id": sale["id"], "quantity": "1", "key": "bad-key-04"},
        {"type": "buy", "sale_id": sale["id"], "key": "short"},
        {"type": "buy", "sale_id": sale["id"], "key": "spaces are not allowed"},
        {"type": "buy", "sale_id": sale["id"], "key": "extra-field", "price": "0.01"},
        {"type": "buy", "key": "no-sale-id-1"},
    ):
        await conn.send(bad)
        error = await conn.next("error")
        assert (error["code"], error["ref"]) == ("invalid_message", None), (bad, error)

    await conn.send({"type": "buy", "sale_id": 10**9, "key": "unknown-sale"})
    unknown = await conn.next("buy_result")
    assert (unknown["ok"], unknown["code"]) == (False, "sale_not_found")
    await conn.send({"type": "buy", "sale_id": elsewhere["id"], "key": "other-show"})
    foreign = await conn.next("buy_result")
    assert (foreign["ok"], foreign["code"]) == (False, "sale_not_found")
    await conn.send({"type": "buy", "sale_id": sale["id"], "quantity": 2, "key": "too-many-1"})
    too_many = await conn.next("buy_result")
    assert (too_many["ok"], too_many["code"]) == (False, "quantity_over_limit")
    await conn.send({"type": "buy", "sale_id": sale["id"], "key": "the-one-unit"})
    assert (await conn.next("buy_result"))["ok"] is True
    second = await sign_up(client, "viewer")
    late = await rooms.join(show.id, token=second.token)
    await late.next("snapshot")
    await late.send({"type": "buy", "sale_id": sale["id"], "key": "too-late-01"})
    sold = await late.next("buy_result")
    assert (sold["ok"], sold["code"], sold["data"]) == (False, "sold_out", {"left": 0})


async def test_the_gate_is_busy_only_while_units_can_be_won(
    client: httpx.AsyncClient,
    rooms: Rooms,
    session_app: FastAPI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The room's ticks wait while `SaleGate.busy()`: after an attempt that could win, not after
    one answered sold out from memory."""
    monkeypatch.setattr(gate_module, "BUSY_AFTER_SECS", 60.0)
    gate: SaleGate = session_app.state.room_gateway.sale_gate
    show = await live_show(client)
    sale = await open_sale(client, show, units=1, per_buyer_limit=1)
    first = await sign_up(client, "viewer")
    second = await sign_up(client, "viewer")
    conn = await rooms.join(show.id, token=first.token)
    await conn.next("snapshot")
    await conn.send({"type": "buy", "sale_id": sale["id"], "key": "busy-key-01"})
    assert (await conn.next("buy_result"))["ok"] is True
    assert gate.busy()

    gate._may_win_at = -60.0  # as if that attempt were long ago
    deadline = asyncio.get_running_loop().time() + 5
    while gate.busy():  # the writer ends its commit after telling the winner
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.01)
    late = await rooms.join(show.id, token=second.token)
    await late.next("snapshot")
    await late.send({"type": "buy", "sale_id": sale["id"], "key": "busy-key-02"})
    assert (await late.next("buy_result"))["code"] == "sold_out"
    assert not gate.busy()
