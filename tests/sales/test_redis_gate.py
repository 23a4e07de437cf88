"""The Redis gate: the same rules as the embedded one, and Redis losing everything mid-sale.

This machine's Redis keeps nothing on disk, so a restart means its data is gone: simulated here
with FLUSHDB and SCRIPT FLUSH on the test database only (LIVECART_TEST_REDIS_URL), never by
restarting the shared server. test_redis_restart.py kills and restarts a Redis of its own."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
import redis
from fastapi import FastAPI
from sqlalchemy import func, select

from livecart.app import create_app
from livecart.config import Settings
from livecart.features.sales.arbiter import Ledger, Outcome, SaleInfo
from livecart.features.sales.gate import make_gate
from livecart.features.sales.models import FlashSale, SaleClaim
from livecart.features.sales.reconcile import reconcile
from livecart.features.sales.redis_arbiter import RedisArbiter
from livecart.kit.clock import utcnow
from tests.conftest import Actor, empty_redis, sign_up, wipe
from tests.roomkit import live_show
from tests.sales.conftest import buy, open_sale

REDIS_URL = os.environ.get("LIVECART_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
pytestmark = pytest.mark.redis


@pytest.fixture(scope="module")
def redis_url() -> str:
    return empty_redis(REDIS_URL)


@pytest.fixture
async def redis_app(settings: Settings, redis_url: str) -> AsyncIterator[FastAPI]:
    app = create_app(settings)  # room fan-out stays in process; only the gate is on Redis
    await app.state.sale_gate.close()
    app.state.sale_gate = make_gate(
        app.state.session_factory,
        backend="redis",
        redis_url=redis_url,
        secret=settings.resolved_secret_key,
    )
    yield app
    await wipe(app)
    redis.Redis.from_url(redis_url).flushdb()
    await app.state.sale_gate.close()
    await app.state.engine.dispose()


@pytest.fixture
async def rclient(redis_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=redis_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def _stored(app: FastAPI, sale_id: int) -> tuple[int, int, set[int]]:
    async with app.state.session_factory() as session:
        taken = await session.scalar(select(FlashSale.taken).where(FlashSale.id == sale_id))
        units = await session.scalar(
            select(func.coalesce(func.sum(SaleClaim.quantity), 0)).where(
                SaleClaim.sale_id == sale_id, SaleClaim.status == "awaiting_payment"
            )
        )
        ids = set(await session.scalars(select(SaleClaim.id).where(SaleClaim.sale_id == sale_id)))
    return int(taken or 0), int(units or 0), ids


async def test_concurrent_buyers_never_oversell_on_redis(
    rclient: httpx.AsyncClient, redis_app: FastAPI
) -> None:
    assert redis_app.state.sale_gate.backend == "redis"
    show = await live_show(rclient)
    sale = await open_sale(rclient, show, units=7, per_buyer_limit=2)
    buyers = [await sign_up(rclient, "viewer") for _ in range(12)]
    results = await asyncio.gather(
        *(buy(rclient, b, sale["id"], q) for b in buyers for q in (1, 2))
    )
    won = [r.json() for r in results if r.status_code == 201]
    assert {r.json()["code"] for r in results if r.status_code != 201} <= {
        "sold_out",
        "buyer_limit_reached",
    }
    assert sum(c["quantity"] for c in won) == 7
    late = await buy(rclient, buyers[0], sale["id"])
    assert (late.status_code, late.json()["code"]) == (409, "sold_out")
    taken, units, _ = await _stored(redis_app, sale["id"])
    assert taken == units == 7
    report = await reconcile(redis_app.state.sale_gate, sale["id"])
    assert (report.agree, report.gate_taken, report.claimed) == (True, 7, 7), report


async def test_redis_loses_everything_mid_sale(
    rclient: httpx.AsyncClient, redis_app: FastAPI, redis_url: str
) -> None:
    """Buyers keep buying while Redis is flushed twice: nothing is oversold, every acknowledged
    claim is stored, a repeat still gets its first answer, and the counters are rebuilt."""
    units, count = 10, 40
    show = await live_show(rclient)
    sale = await open_sale(rclient, show, units=units, per_buyer_limit=1)
    buyers = [await sign_up(rclient, "viewer") for _ in range(count)]
    first = buyers[0]
    resp = await buy(rclient, first, sale["id"], key="before-the-flush")
    assert resp.status_code == 201
    claim = resp.json()
    acknowledged: list[int] = [claim["id"]]
    keys: dict[int, tuple[Actor, str]] = {}
    flushed = asyncio.Event()
    raw = redis.asyncio.Redis.from_url(redis_url)

    async def attempt(buyer: Actor, n: int) -> None:
        key = uuid.uuid4().hex
        r = await buy(rclient, buyer, sale["id"], key=key)
        assert r.status_code in (201, 409), r.text
        if r.status_code == 201:
            acknowledged.append(r.json()["id"])
            keys[r.json()["id"]] = (buyer, key)
        if n == count // 3:
            await raw.flushdb()  # "Redis restarted": its data is gone
            await raw.script_flush()
            flushed.set()

    await asyncio.gather(*(attempt(b, n) for n, b in enumerate(buyers[1:])))
    await raw.flushdb()
    again = await buy(rclient, first, sale["id"], key="before-the-flush")
    assert (again.status_code, again.json()) == (200, claim)
    await raw.aclose()
    assert flushed.is_set()
    taken, stored_units, stored = await _stored(redis_app, sale["id"])
    assert set(acknowledged) <= stored, "an acknowledged purchase was lost"
    assert len(acknowledged) == len(set(acknowledged))
    assert taken == stored_units <= units
    assert len(acknowledged) == units  # 40 buyers for 10 units: every unit sold once
    report = await reconcile(redis_app.state.sale_gate, sale["id"])
    assert report.agree, report


async def test_reconcile_repairs_redis_from_the_database(
    rclient: httpx.AsyncClient, redis_app: FastAPI, redis_url: str
) -> None:
    show = await live_show(rclient)
    sale = await open_sale(rclient, show, units=4, per_buyer_limit=1)
    buyers = [await sign_up(rclient, "viewer") for _ in range(2)]
    for b in buyers:
        assert (await buy(rclient, b, sale["id"])).status_code == 201
    raw = redis.Redis.from_url(redis_url)
    state_key = f"livecart:{{sale:{sale['id']}}}:state"
    raw.hset(state_key, "taken", 4)  # the gate believes it is sold out
    gate = redis_app.state.sale_gate
    drift = await reconcile(gate, sale["id"])
    assert (drift.agree, drift.gate_taken, drift.claimed) == (False, 4, 2)
    fixed = await reconcile(gate, sale["id"], repair=True)
    assert fixed.repaired
    assert (await reconcile(gate, sale["id"])).agree
    third = await sign_up(rclient, "viewer")
    assert (await buy(rclient, third, sale["id"])).status_code == 201


async def test_the_arbiter_says_when_a_batch_is_told(redis_url: str) -> None:
    """`after_batch` (the gate: write the batch's winners now) runs once per batch, after every
    attempt of it has been told its decision."""
    sale_id = 900_000_000 + uuid.uuid4().int % 1_000_000

    async def no_ledger(_: int) -> Ledger:
        return Ledger()

    arbiter = RedisArbiter(redis_url, no_ledger)
    now = utcnow()
    sale = SaleInfo(
        sale_id, 1, 3, 1, now, now + timedelta(hours=1), 990, "CNY", 300, "first_come", 0
    )
    events: list[object] = []
    arbiter.after_batch = lambda: events.append("batch")
    try:
        for buyer in range(5):
            arbiter.reserve_soon(
                sale, buyer, f"key-{buyer}", 1, lambda r, b=buyer: events.append((b, r.outcome))
            )
        for _ in range(200):
            if "batch" in events:
                break
            await asyncio.sleep(0.01)
        granted, sold = Outcome.GRANTED, Outcome.SOLD_OUT
        assert events == [(0, granted), (1, granted), (2, granted), (3, sold), (4, sold), "batch"]
    finally:
        await arbiter.drop(sale_id)
        await arbiter.close()
