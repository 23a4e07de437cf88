"""A small WebSocket client for room tests, and a live show to test in."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import websockets

from tests.conftest import Actor, create_product, sign_up

TIMEOUT_SECS = 5.0


class RoomClient:
    """One connection; keeps every event it receives, in order."""

    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws
        self.received: list[dict[str, Any]] = []
        self._taken: set[int] = set()

    @classmethod
    async def join(
        cls,
        base: str,
        show_id: int,
        *,
        token: str | None = None,
        last_seq: int | None = None,
        epoch: str | None = None,
    ) -> RoomClient:
        ws = await websockets.connect(f"{base}/rooms/{show_id}", open_timeout=TIMEOUT_SECS)
        client = cls(ws)
        hello: dict[str, Any] = {"type": "hello"}
        if token:
            hello["token"] = token
        if last_seq is not None:
            hello.update(last_seq=last_seq, epoch=epoch)
        await client.send(hello)
        return client

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def next(self, *types: str, wait: float = TIMEOUT_SECS) -> dict[str, Any]:
        """The earliest message of one of `types` not yet returned, waiting for it if need be."""
        async with asyncio.timeout(wait):
            scanned = 0
            while True:
                for index in range(scanned, len(self.received)):
                    if index not in self._taken and self.received[index]["type"] in types:
                        self._taken.add(index)
                        return self.received[index]
                scanned = len(self.received)
                self.received.append(json.loads(await self.ws.recv()))

    async def quiet(self, seconds: float = 0.3) -> list[dict[str, Any]]:
        """Everything that arrives within `seconds` (to show that something did not)."""
        start = len(self.received)
        try:
            async with asyncio.timeout(seconds):
                while True:
                    self.received.append(json.loads(await self.ws.recv()))
        except TimeoutError:
            pass
        return self.received[start:]

    def seqs(self) -> list[int]:
        return [m["seq"] for m in self.received if "seq" in m and m["type"] != "snapshot"]

    async def close(self) -> None:
        await self.ws.close()


class Rooms:
    """Opens room connections for a test and closes them all at its end."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.clients: list[RoomClient] = []

    async def join(
        self,
        show_id: int,
        *,
        token: str | None = None,
        last_seq: int | None = None,
        epoch: str | None = None,
    ) -> RoomClient:
        client = await RoomClient.join(
            self.base, show_id, token=token, last_seq=last_seq, epoch=epoch
        )
        self.clients.append(client)
        return client

    async def close(self) -> None:
        for client in self.clients:
            await client.close()


class LiveShow:
    def __init__(
        self, show: dict[str, Any], host: Actor, merchant: Actor, product: dict[str, Any]
    ) -> None:
        self.show, self.host, self.merchant, self.product = show, host, merchant, product
        self.id: int = show["id"]


async def live_show(client: httpx.AsyncClient, *, go_live: bool = True) -> LiveShow:
    merchant = await sign_up(client, "merchant")
    product = await create_product(client, merchant)
    host = await sign_up(client, "host")
    start = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    resp = await client.post(
        "/api/v1/shows",
        json={"title": "Room test", "planned_start": start, "product_ids": [product["id"]]},
        headers=host.headers,
    )
    assert resp.status_code == 201, resp.text
    show = resp.json()
    if go_live:
        live = await client.post(f"/api/v1/shows/{show['id']}/go-live", headers=host.headers)
        assert live.status_code == 200, live.text
    return LiveShow(show, host, merchant, product)
