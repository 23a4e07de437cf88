"""A real Redis restart mid-sale: the test starts its own `redis-server` (keeping nothing on disk,
like this machine's), a `livecart serve` process uses it as the sale gate, buyers buy over HTTP,
and Redis is killed with SIGKILL and started again on the same port while they do.

What must hold: buyers see 503 `gate_unavailable` while Redis is gone and nothing else goes wrong;
every acknowledged purchase is stored; a repeat of an acknowledged key gets its first answer after
the restart; the gate rebuilds its counters from the database, so the rest of the stock sells
exactly once; and the reconciler finds the counters and the database in agreement."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import redis

from tests.conftest import IN_CI
from tests.sales.serverkit import stage_sale
from tests.sales.test_crash import BUYERS, UNITS, _counts, _reconcile
from tests.servers import free_port, serve

pytestmark = pytest.mark.redis
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
RETRY_FOR_SECS = 30.0


@contextmanager
def redis_process(port: int) -> Iterator[subprocess.Popen[bytes]]:
    """`redis-server` on `port` with no persistence, up and answering."""
    proc = subprocess.Popen(
        [
            REDIS_SERVER,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis(port=port).ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


@pytest.fixture
def redis_server_binary() -> str:
    if not Path(REDIS_SERVER).exists():
        if IN_CI:
            pytest.fail(f"{REDIS_SERVER} is missing and CI is set")
        pytest.skip("redis-server is not installed")
    return REDIS_SERVER


async def test_redis_restarted_mid_sale(
    database_url: str, tmp_path: Path, redis_server_binary: str
) -> None:
    port = free_port()
    data_dir = tmp_path / "restart"
    env = {"LIVECART_SALE_GATE": "redis", "REDIS_URL": f"redis://127.0.0.1:{port}/0"}
    acknowledged: dict[int, tuple[dict[str, str], str]] = {}
    codes: list[str] = []
    some_through = asyncio.Event()
    with redis_process(port) as first, serve(database_url, data_dir, **env) as server:
        async with httpx.AsyncClient(base_url=server.base, timeout=10) as http:
            staged = await stage_sale(http, buyers=BUYERS, units=UNITS, per_buyer_limit=1)
            sale_id, buyers = staged.sale_id, staged.buyers

            async def attempt(headers: dict[str, str]) -> None:
                """A client that retries with the same key until it gets an answer."""
                key = uuid.uuid4().hex
                deadline = time.monotonic() + RETRY_FOR_SECS
                while True:
                    resp = await http.post(
                        f"/api/v1/sales/{sale_id}/purchase",
                        json={"quantity": 1},
                        headers={**headers, "Idempotency-Key": key},
                    )
                    code = resp.json().get("code", "")
                    if resp.status_code == 503:
                        assert code == "gate_unavailable", resp.text
                        codes.append(code)
                        assert time.monotonic() < deadline, "Redis never came back for the sale"
                        await asyncio.sleep(0.05)
                        continue
                    assert resp.status_code in (200, 201, 409), resp.text
                    if resp.status_code in (200, 201):
                        acknowledged[resp.json()["id"]] = (headers, key)
                        if len(acknowledged) >= 8:
                            some_through.set()
                    else:
                        assert code == "sold_out", resp.text
                    return

            # Wave one is under way when Redis dies; wave two starts while it is gone.
            wave_one = [asyncio.create_task(attempt(b)) for b in buyers[:20]]
            await asyncio.wait_for(some_through.wait(), timeout=30)
            first.kill()
            await asyncio.to_thread(first.wait, 10)
            wave_two = [asyncio.create_task(attempt(b)) for b in buyers[20:]]
            await asyncio.sleep(3.0)  # longer than the client's own reconnect retries
            with redis_process(port):
                await asyncio.wait_for(asyncio.gather(*wave_one, *wave_two), timeout=90)
                assert codes, "no buyer met the missing Redis"

                # After the restart, a repeat of an acknowledged key gets its first answer.
                for claim_id, (headers, key) in list(acknowledged.items())[:5]:
                    again = await http.post(
                        f"/api/v1/sales/{sale_id}/purchase",
                        json={"quantity": 1},
                        headers={**headers, "Idempotency-Key": key},
                    )
                    assert (again.status_code, again.json()["id"]) == (200, claim_id), again.text
                report = _reconcile(database_url, data_dir, sale_id, env)
    assert report["agree"], report
    taken, stored = await _counts(database_url, sale_id)
    assert set(acknowledged) == set(stored), "acknowledged and stored purchases differ"
    assert taken == len(stored) == UNITS  # 60 buyers for 40 units: each unit sold once
