from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from tests.conftest import sign_up
from tests.roomkit import Rooms, live_show


async def test_join_gets_a_snapshot_then_chat_round_trips(
    client: httpx.AsyncClient, rooms: Rooms
) -> None:
    show = await live_show(client)
    viewer = await sign_up(client, "viewer")
    host_ws = await rooms.join(show.id, token=show.host.token)
    viewer_ws = await rooms.join(show.id, token=viewer.token)
    snap = await viewer_ws.next("snapshot")
    assert snap["show"]["state"] == "live"
    assert snap["you"]["role"] == "viewer"
    await host_ws.next("snapshot")
    await viewer_ws.send({"type": "chat", "text": "多少钱？ <b>hi</b>", "question": True})
    posted = await host_ws.next("chat_posted")
    assert posted["message"]["text"] == "多少钱？ <b>hi</b>"  # stored raw; pages escape it
    assert posted["message"]["question"] is True
    assert posted["seq"] > snap["seq"]
    await viewer_ws.next("chat_posted")


async def test_drop_reaches_viewers_with_server_times(
    client: httpx.AsyncClient, rooms: Rooms
) -> None:
    show = await live_show(client)
    host_ws = await rooms.join(show.id, token=show.host.token)
    anon = await rooms.join(show.id)
    await host_ws.next("snapshot")
    await anon.next("snapshot")
    await host_ws.send({"type": "drop", "product_id": show.product["id"], "countdown_ms": 3000})
    dropped = await anon.next("drop_opened")
    assert dropped["opens_at"] - dropped["t_event"] == 3000
    assert dropped["product"]["price"] == "49.00"
    await anon.send({"type": "drop", "product_id": show.product["id"]})
    refused = await anon.next("error")
    assert refused["code"] == "login_required" or refused["code"] == "unauthorized"


async def test_http_transitions_reach_the_room_and_close_the_explanation(
    client: httpx.AsyncClient, rooms: Rooms
) -> None:
    show = await live_show(client, go_live=False)
    watcher = await rooms.join(show.id)
    assert (await watcher.next("snapshot"))["show"]["state"] == "scheduled"
    stranger = await sign_up(client, "host")
    resp = await client.post(f"/api/v1/shows/{show.id}/go-live", headers=stranger.headers)
    assert resp.status_code == 404
    resp = await client.post(f"/api/v1/shows/{show.id}/go-live", headers=show.host.headers)
    assert resp.status_code == 200, resp.text
    assert (await watcher.next("show_state"))["state"] == "live"
    host = await rooms.join(show.id, token=show.host.token)
    await host.next("snapshot")
    await host.send({"type": "explain", "product_id": show.product["id"]})
    started = await watcher.next("explain_started")
    resp = await client.post(f"/api/v1/shows/{show.id}/end", headers=show.host.headers)
    assert resp.status_code == 200, resp.text
    assert (await watcher.next("explain_stopped"))["explanation_id"] == started["explanation_id"]
    assert (await watcher.next("show_state"))["state"] == "ended"
    segments = (await client.get(f"/api/v1/shows/{show.id}/explanations")).json()
    assert segments[0]["ended_at"] is not None


async def test_likes_are_coalesced_and_outlive_the_room(
    client: httpx.AsyncClient, rooms: Rooms, session_app: FastAPI
) -> None:
    show = await live_show(client)
    viewer = await sign_up(client, "viewer")
    fan = await rooms.join(show.id, token=viewer.token)
    anon = await rooms.join(show.id)
    await fan.next("snapshot")
    await anon.next("snapshot")
    for _ in range(5):
        await fan.send({"type": "like", "count": 3})
    await anon.send({"type": "like", "count": 1})
    assert (await anon.next("error"))["code"] == "login_required"
    while (await anon.next("tick"))["likes"] != 15:
        pass
    gateway, hub = session_app.state.room_gateway, session_app.state.hub
    await gateway._save_counts()  # what the sweep does every few seconds
    for c in (fan, anon):
        await c.close()
    # As after a restart: the room, its counters and its cached snapshot are gone, and the room
    # is opened afresh from the database.
    hub.rooms.pop(show.id)
    hub.counters._likes.pop(show.id, None)
    gateway._snapshots.pop(show.id, None)
    late = await rooms.join(show.id)
    assert (await late.next("snapshot"))["likes"] == 15


async def test_a_join_storm_on_a_fresh_room_does_not_exhaust_the_pool(
    client: httpx.AsyncClient, rooms: Rooms
) -> None:
    """More first joiners at once than the pool has connections (5 + 10 overflow): each hello
    holds at most one connection at a time, so none waits for another forever."""
    show = await live_show(client)
    viewers = await asyncio.gather(*(rooms.join(show.id) for _ in range(40)))
    snapshots = await asyncio.gather(*(v.next("snapshot", wait=20) for v in viewers))
    assert {s["show"]["id"] for s in snapshots} == {show.id}
