"""Heartbeats: a quiet connection is pinged; one that does not answer is closed, one that does
stays."""

from __future__ import annotations

import asyncio
import base64
import os
import time

import httpx
from fastapi import FastAPI

from livecart.web import room_socket
from tests.roomkit import Rooms, live_show


async def _raw_upgrade(
    port: int, show_id: int
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A client that completes the WebSocket handshake and then never answers anything."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET /rooms/{show_id} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    await writer.drain()
    assert b"101" in await reader.readuntil(b"\r\n\r\n")
    return reader, writer


async def test_dead_connections_are_closed_and_live_ones_kept(
    client: httpx.AsyncClient, rooms: Rooms, session_app: FastAPI
) -> None:
    gateway = session_app.state.room_gateway
    show = await live_show(client)
    alive = await rooms.join(show.id)
    await alive.next("snapshot")
    _, writer = await _raw_upgrade(gateway.port, show.id)
    try:
        await asyncio.sleep(0.1)
        silent = [c for c in gateway.connections if not c.greeted]
        answering = [c for c in gateway.connections if c.greeted and c.show_id == show.id]
        assert len(silent) == 1 and answering
        later = time.monotonic() + room_socket.IDLE_PING_SECS + 1
        for conn in silent + answering:
            conn.check_alive(later)  # quiet for long enough: both get a real ping
        await asyncio.sleep(0.3)  # the websockets client answers; the raw one does not
        for conn in silent + answering:
            conn.check_alive(later + room_socket.PONG_WAIT_SECS + 1)
        await asyncio.sleep(0.3)
        assert silent[0] not in gateway.connections
        assert all(c in gateway.connections for c in answering)
        await alive.send({"type": "ping", "t0": 1})
        assert (await alive.next("pong"))["t0"] == 1
    finally:
        writer.close()
