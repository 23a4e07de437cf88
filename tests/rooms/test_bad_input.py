"""Bad input on the room connection: each gets an error or a close with a code, and the server and
the other viewers carry on."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets

from livecart.web import room_socket
from tests.conftest import sign_up
from tests.roomkit import Rooms, live_show


async def _closed_with(
    ws: websockets.ClientConnection, record: list[dict[str, object]] | None = None
) -> int | None:
    """Read until the server closes; the close code (messages read go to `record`)."""
    try:
        async with asyncio.timeout(5):
            while True:
                message = json.loads(await ws.recv())
                if record is not None:
                    record.append(message)
    except websockets.ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    return None


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", "invalid_json"),
        ('{"type": "dance"}', "unknown_message_type"),
        ('{"type": "chat", "text": "hi", "colour": "red"}', "invalid_message"),
        ('{"type": "chat", "text": ""}', "invalid_message"),
        ('{"type": "chat", "text": "' + "x" * 201 + '"}', "invalid_message"),
        ('{"type": "like", "count": 1000}', "invalid_message"),
        ('{"type": "drop", "product_id": "1"}', "invalid_message"),
        ("[]", "invalid_message"),
    ],
)
async def test_malformed_messages_get_an_error_and_the_room_goes_on(
    client: httpx.AsyncClient, rooms: Rooms, frame: str, code: str
) -> None:
    show = await live_show(client)
    viewer = await sign_up(client, "viewer")
    bad = await rooms.join(show.id, token=viewer.token)
    other = await rooms.join(show.id)
    await bad.next("snapshot")
    await other.next("snapshot")
    await bad.ws.send(frame)
    assert (await bad.next("error"))["code"] == code
    await bad.send({"type": "chat", "text": "still here"})
    assert (await other.next("chat_posted"))["message"]["text"] == "still here"


async def test_oversize_frame_closes_that_connection_only(
    client: httpx.AsyncClient, rooms: Rooms
) -> None:
    show = await live_show(client)
    bad = await rooms.join(show.id)
    other = await rooms.join(show.id)
    await bad.next("snapshot")
    await other.next("snapshot")
    await bad.ws.send(json.dumps({"type": "ping", "t0": 1, "pad": "x" * 10_000}))
    assert await _closed_with(bad.ws) == 1009
    host = await rooms.join(show.id, token=show.host.token)
    await host.next("snapshot")
    await host.send({"type": "chat", "text": "the show goes on"})
    assert (await other.next("chat_posted"))["message"]["text"] == "the show goes on"


async def test_flooding_is_limited_then_closed(client: httpx.AsyncClient, rooms: Rooms) -> None:
    show = await live_show(client)
    viewer = await sign_up(client, "viewer")
    flood = await rooms.join(show.id, token=viewer.token)
    await flood.next("snapshot")
    for _ in range(int(room_socket.RATE_BURST) + room_socket.FLOOD_STRIKES + 5):
        try:
            await flood.ws.send(json.dumps({"type": "ping", "t0": 0}))
        except websockets.ConnectionClosed:
            break
    assert await _closed_with(flood.ws, flood.received) == room_socket.CLOSE_FLOODING
    assert any(m["type"] == "error" and m["code"] == "rate_limited" for m in flood.received)


async def test_messages_before_hello_and_unknown_shows(
    client: httpx.AsyncClient, room_base: str
) -> None:
    async with websockets.connect(f"{room_base}/rooms/999999") as ws:
        await ws.send(json.dumps({"type": "chat", "text": "hi"}))
        assert json.loads(await ws.recv())["code"] == "hello_first"
        await ws.send(json.dumps({"type": "hello"}))
        assert json.loads(await ws.recv())["code"] == "show_not_found"
        assert await _closed_with(ws) == 4004
    with pytest.raises(websockets.InvalidStatus):
        async with websockets.connect(f"{room_base}/nowhere"):
            pass


async def test_a_bad_token_is_refused_but_the_connection_may_retry(
    client: httpx.AsyncClient, rooms: Rooms
) -> None:
    show = await live_show(client)
    conn = await rooms.join(show.id, token="not-a-token")
    assert (await conn.next("error"))["code"] == "invalid_token"
    await conn.send({"type": "hello"})
    assert (await conn.next("snapshot"))["you"]["role"] == "anonymous"


async def test_silent_connections_are_closed(
    client: httpx.AsyncClient, room_base: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(room_socket, "HELLO_TIMEOUT_SECS", 0.2)
    show = await live_show(client)
    async with websockets.connect(f"{room_base}/rooms/{show.id}") as ws:
        assert await _closed_with(ws) == room_socket.CLOSE_HELLO_TIMEOUT


async def test_chat_in_an_ended_show_is_refused(client: httpx.AsyncClient, rooms: Rooms) -> None:
    show = await live_show(client)
    viewer = await sign_up(client, "viewer")
    host = await rooms.join(show.id, token=show.host.token)
    fan = await rooms.join(show.id, token=viewer.token)
    await host.next("snapshot")
    await fan.next("snapshot")
    await host.send({"type": "end"})
    assert (await fan.next("show_state"))["state"] == "ended"
    await fan.send({"type": "chat", "text": "hello?"})
    assert (await fan.next("error"))["code"] == "show_over"
    await host.send({"type": "drop", "product_id": show.product["id"]})
    assert (await host.next("error"))["code"] == "show_not_live"
