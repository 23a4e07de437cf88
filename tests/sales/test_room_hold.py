"""At a sale's opening the room gateway stops reading while the attempts that may still win wait
for their answer (so their Redis reply and commit are not queued behind the rest of the burst),
and reads again once they are answered, or after MAX_HOLD_SECS at the latest."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from livecart.web import room_gateway
from livecart.web.room_gateway import RoomGateway
from tests.conftest import sign_up
from tests.roomkit import RoomClient, Rooms, live_show
from tests.sales.conftest import open_sale


async def buyers_in_room(
    client: httpx.AsyncClient, rooms: Rooms, show_id: int, count: int
) -> list[RoomClient]:
    conns = []
    for _ in range(count):
        buyer = await sign_up(client, "viewer")
        conn = await rooms.join(show_id, token=buyer.token)
        await conn.next("snapshot")
        conns.append(conn)
    return conns


def count_holds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    holds: list[int] = []
    hold = RoomGateway._hold_reads

    def counted(self: RoomGateway) -> None:
        holds.append(self._unanswered)
        hold(self)

    monkeypatch.setattr(RoomGateway, "_hold_reads", counted)
    return holds


async def test_reads_are_held_until_possible_winners_are_answered(
    client: httpx.AsyncClient,
    rooms: Rooms,
    session_app: FastAPI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(room_gateway, "HOLD_AT", 1)
    monkeypatch.setattr(room_gateway, "RESUME_AT", 0)
    holds = count_holds(monkeypatch)
    show = await live_show(client)
    sale = await open_sale(client, show, units=2, per_buyer_limit=1)
    conns = await buyers_in_room(client, rooms, show.id, 6)

    await asyncio.gather(
        *(
            conn.send({"type": "buy", "sale_id": sale["id"], "key": f"hold-key-{i:02d}"})
            for i, conn in enumerate(conns)
        )
    )
    answers = [await conn.next("buy_result") for conn in conns]
    assert sorted(a["ok"] for a in answers) == [False] * 4 + [True] * 2
    assert {a["code"] for a in answers if not a["ok"]} == {"sold_out"}
    assert holds, "a possible winner was waiting: reads should have been held"

    gateway: RoomGateway = session_app.state.room_gateway
    assert (gateway._held, gateway._unanswered) == (None, 0)
    for conn in conns:  # every connection is read again
        await conn.send({"type": "ping", "t0": 1})
        assert (await conn.next("pong"))["t0"] == 1


async def test_reads_resume_after_the_longest_hold(
    client: httpx.AsyncClient,
    rooms: Rooms,
    session_app: FastAPI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A winner's commit that hangs does not stop the room: reads resume after MAX_HOLD_SECS,
    and the winner is answered once the commit is done."""
    monkeypatch.setattr(room_gateway, "HOLD_AT", 1)
    monkeypatch.setattr(room_gateway, "MAX_HOLD_SECS", 0.2)
    holds = count_holds(monkeypatch)
    writer = session_app.state.sale_gate.writer
    entered, release = asyncio.Event(), asyncio.Event()
    persist = writer._persist

    async def slow_persist(claims: Any) -> Any:
        entered.set()
        await release.wait()
        return await persist(claims)

    monkeypatch.setattr(writer, "_persist", slow_persist)
    show = await live_show(client)
    sale = await open_sale(client, show, units=1, per_buyer_limit=1)
    winner, other = await buyers_in_room(client, rooms, show.id, 2)

    await winner.send({"type": "buy", "sale_id": sale["id"], "key": "hangs-for-a-while"})
    await asyncio.wait_for(entered.wait(), 5)
    assert holds  # read, unanswered, and it may win: reads are held
    gate = session_app.state.sale_gate
    # Sold out as far as the (embedded) arbiter knows, but its winner is still being written:
    # another attempt still holds reads; once the winner is answered, none does.
    sold_out_known = gate.arbiter.peek(await gate.info(sale["id"]), 10**9, "") is not None
    assert gate.first_come_hurry(sale["id"], 10**9)
    await other.send({"type": "ping", "t0": 7})
    assert (await other.next("pong"))["t0"] == 7  # read again after the longest hold
    assert session_app.state.room_gateway._held is None

    release.set()
    won = await winner.next("buy_result")
    assert won["ok"] is True
    assert session_app.state.room_gateway._unanswered == 0
    await gate.writer.idle()
    assert gate.first_come_hurry(sale["id"], 10**9) is not sold_out_known


async def test_a_fair_window_is_never_held(
    client: httpx.AsyncClient, rooms: Rooms, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every attempt read within a fair_window sale's window is equal: holding reads would push
    some past the window's end."""
    monkeypatch.setattr(room_gateway, "HOLD_AT", 1)
    holds = count_holds(monkeypatch)
    show = await live_show(client)
    sale = await open_sale(
        client, show, units=1, per_buyer_limit=1, mode="fair_window", window_ms=300
    )
    conns = await buyers_in_room(client, rooms, show.id, 3)
    for i, conn in enumerate(conns):
        await conn.send({"type": "buy", "sale_id": sale["id"], "key": f"fair-key-{i:02d}"})
    answers = [await conn.next("buy_result") for conn in conns]
    assert sorted(a["ok"] for a in answers) == [False, False, True]
    assert holds == []
