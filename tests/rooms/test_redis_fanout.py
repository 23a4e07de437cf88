"""Fan-out across two real server processes through a real Redis."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Actor, empty_redis, product_payload
from tests.roomkit import RoomClient
from tests.servers import Server, serve

REDIS_URL = os.environ.get("LIVECART_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
pytestmark = pytest.mark.redis


@pytest.fixture(scope="module")
def redis_url() -> str:
    return empty_redis(REDIS_URL)


@pytest.fixture(scope="module")
def two_servers(
    database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Server]]:
    data_dir: Path = tmp_path_factory.mktemp("two-servers")
    with (
        serve(database_url, data_dir, REDIS_URL=redis_url) as a,
        serve(database_url, data_dir, REDIS_URL=redis_url) as b,
    ):
        yield a, b


@pytest.fixture
async def http(two_servers: tuple[Server, Server]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=two_servers[0].base, timeout=10) as c:
        yield c


async def _actor(http: httpx.AsyncClient, role: str, n: int) -> Actor:
    body = {
        "email": f"{role}{n}-{os.getpid()}@fanout.example.com",
        "password": "x" * 12,
        "display_name": f"{role} {n}",
        "role": role,
    }
    if role == "merchant":
        body["merchant_name"] = "Fanout shop"
    resp = await http.post("/api/v1/auth/signup", json=body)
    assert resp.status_code == 201, resp.text
    return Actor(resp.json())


async def test_events_cross_processes_in_one_order(
    http: httpx.AsyncClient, two_servers: tuple[Server, Server]
) -> None:
    a, b = two_servers
    merchant = await _actor(http, "merchant", 1)
    product = (
        await http.post("/api/v1/products", json=product_payload(), headers=merchant.headers)
    ).json()
    host = await _actor(http, "host", 1)
    moderator = await _actor(http, "viewer", 2)
    viewer = await _actor(http, "viewer", 3)
    start = "2026-12-31T12:00:00+00:00"
    show = (
        await http.post(
            "/api/v1/shows",
            json={"title": "Two processes", "planned_start": start, "product_ids": [product["id"]]},
            headers=host.headers,
        )
    ).json()
    assert (
        await http.put(
            f"/api/v1/shows/{show['id']}/moderators/{moderator.id}", headers=host.headers
        )
    ).status_code == 200
    assert (
        await http.post(f"/api/v1/shows/{show['id']}/go-live", headers=host.headers)
    ).status_code == 200

    host_ws = await RoomClient.join(a.room_base, show["id"], token=host.token)
    mod_ws = await RoomClient.join(b.room_base, show["id"], token=moderator.token)
    fan_b = await RoomClient.join(b.room_base, show["id"], token=viewer.token)
    anon_a = await RoomClient.join(a.room_base, show["id"])
    clients = [host_ws, mod_ws, fan_b, anon_a]
    try:
        for c in clients:
            await c.next("snapshot")

        async def talk(c: RoomClient, who: str) -> None:
            for i in range(20):
                await c.send({"type": "chat", "text": f"{who} {i}"})
                await asyncio.sleep(0.01)

        await asyncio.gather(talk(host_ws, "host"), talk(mod_ws, "mod"))
        orders = []
        for c in clients:
            lines = [await c.next("chat_posted") for _ in range(40)]
            seqs = [m["seq"] for m in lines]
            assert seqs == list(range(seqs[0], seqs[0] + 40)), "gap or reorder"
            orders.append([m["message"]["text"] for m in lines])
        assert all(order == orders[0] for order in orders), "processes disagree on the order"

        await host_ws.send({"type": "drop", "product_id": product["id"], "countdown_ms": 3000})
        dropped = await fan_b.next("drop_opened")
        assert dropped["opens_at"] - dropped["t_event"] == 3000

        async with asyncio.timeout(5):
            while True:  # online counts are summed over both processes
                tick = await fan_b.next("tick")
                if tick["online"] == len(clients):
                    break
    finally:
        for c in clients:
            await c.close()
