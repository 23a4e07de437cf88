"""SIGKILL the server in the middle of a sale, start it again: every purchase it acknowledged is
still there, nothing is oversold, the counters agree with the claims (after `livecart reconcile
--repair` for Redis, which may hold reservations the killed process never wrote), and the rest of
the stock sells exactly once, and every claim has its order (on PostgreSQL written after the
answer: the restarted server's sweep writes what the kill left out). On both gates."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import exists, func, select

from livecart.config import Settings
from livecart.db.engine import make_engine, make_session_factory
from livecart.features.orders.models import Order
from livecart.features.sales.models import FlashSale, SaleClaim
from tests.conftest import empty_redis
from tests.sales.serverkit import sign_up_over, stage_sale
from tests.servers import serve

REDIS_URL = os.environ.get("LIVECART_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

UNITS = 40
BUYERS = 60


async def _counts(database_url: str, sale_id: int) -> tuple[int, list[int]]:
    engine = make_engine(Settings(database_url=database_url).resolved_database_url)
    try:
        async with make_session_factory(engine)() as session:
            taken = await session.scalar(select(FlashSale.taken).where(FlashSale.id == sale_id))
            ids = list(
                await session.scalars(
                    select(SaleClaim.id).where(
                        SaleClaim.sale_id == sale_id, SaleClaim.status == "awaiting_payment"
                    )
                )
            )
            units = await session.scalar(
                select(func.coalesce(func.sum(SaleClaim.quantity), 0)).where(
                    SaleClaim.sale_id == sale_id, SaleClaim.status == "awaiting_payment"
                )
            )
            assert units == taken
            return int(taken or 0), ids
    finally:
        await engine.dispose()


async def _claims_without_order(database_url: str, sale_id: int) -> int:
    engine = make_engine(Settings(database_url=database_url).resolved_database_url)
    try:
        async with make_session_factory(engine)() as session:
            missing = await session.scalar(
                select(func.count())
                .select_from(SaleClaim)
                .where(
                    SaleClaim.sale_id == sale_id,
                    ~exists().where(Order.claim_id == SaleClaim.id),
                )
            )
            return int(missing or 0)
    finally:
        await engine.dispose()


def _gate_env(backend: str) -> dict[str, str]:
    if backend == "embedded":
        return {"LIVECART_SALE_GATE": "embedded", "REDIS_URL": ""}
    return {"LIVECART_SALE_GATE": "redis", "REDIS_URL": empty_redis(REDIS_URL)}


def _reconcile(
    database_url: str, data_dir: Path, sale_id: int, env: dict[str, str], *flags: str
) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "livecart", "reconcile", str(sale_id), *flags],
        env={**os.environ, **env, "DATABASE_URL": database_url, "LIVECART_DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode in (0, 1) and done.stdout.strip(), done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("backend", ["embedded", pytest.param("redis", marks=pytest.mark.redis)])
async def test_acknowledged_purchases_survive_a_kill(
    database_url: str, tmp_path: Path, backend: str
) -> None:
    data_dir = tmp_path / "crash"
    env = _gate_env(backend)
    acknowledged: list[int] = []
    some_through = asyncio.Event()
    with serve(database_url, data_dir, **env) as server:
        async with httpx.AsyncClient(base_url=server.base, timeout=10) as http:
            staged = await stage_sale(http, buyers=BUYERS, units=UNITS, per_buyer_limit=1)
            sale_id, buyers = staged.sale_id, staged.buyers

            async def attempt(headers: dict[str, str]) -> None:
                try:
                    resp = await http.post(
                        f"/api/v1/sales/{sale_id}/purchase",
                        json={"quantity": 1},
                        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
                    )
                except httpx.HTTPError:
                    return  # the server died under this request: it was never acknowledged
                if resp.status_code == 201:
                    acknowledged.append(resp.json()["id"])
                    if len(acknowledged) >= 5:
                        some_through.set()

            async def kill_mid_sale() -> None:
                await some_through.wait()  # some purchases are through, others in flight
                os.kill(server.pid, signal.SIGKILL)

            await asyncio.wait_for(
                asyncio.gather(kill_mid_sale(), *(attempt(b) for b in buyers)), timeout=60
            )
    taken, stored = await _counts(database_url, sale_id)
    assert set(acknowledged) <= set(stored), "an acknowledged purchase was lost"
    assert taken <= UNITS
    report = _reconcile(database_url, data_dir, sale_id, env, "--repair")
    assert report["claimed"] == report["db_taken"] == taken, report
    assert _reconcile(database_url, data_dir, sale_id, env)["agree"]
    with serve(database_url, data_dir, **env) as server:  # restarted: the sale goes on
        # The server's own view (for embedded: its memory, rebuilt from the claims at start).
        on_server = _reconcile(
            database_url,
            data_dir,
            sale_id,
            {**env, "LIVECART_TOKEN": staged.host["Authorization"].split()[1]},
            "--server",
            server.base,
        )
        assert (on_server["backend"], on_server["agree"]) == (backend, True), on_server
        assert on_server["gate_taken"] in (None, taken), on_server
        async with httpx.AsyncClient(base_url=server.base, timeout=10) as http:
            left = (await http.get(f"/api/v1/sales/{sale_id}")).json()["left"]
            assert left == UNITS - taken
            late = [await sign_up_over(http, "viewer") for _ in range(left + 3)]
            answers = [
                await http.post(
                    f"/api/v1/sales/{sale_id}/purchase",
                    json={"quantity": 1},
                    headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
                )
                for headers in late
            ]
            assert sorted(a.status_code for a in answers) == [201] * left + [409] * 3
        # PostgreSQL writes a claim's order after answering it: the kill may have left claims
        # without theirs. The restarted server's sweep writes them (claims older than 5 s).
        for _ in range(100):
            if not await _claims_without_order(database_url, sale_id):
                break
            await asyncio.sleep(0.2)
        assert await _claims_without_order(database_url, sale_id) == 0
    taken, stored = await _counts(database_url, sale_id)
    assert taken == len(stored) == UNITS  # sold + reserved + left = allotted, each unit once
