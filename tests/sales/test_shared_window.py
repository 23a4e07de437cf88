"""fair_window across two real server processes on the Redis gate: buyers on both are drawn
together by lot, each hears the outcome the published allocation gives them, and anyone can
recompute it; after the window it is first come."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from livecart.features.sales import fair
from tests.conftest import empty_redis
from tests.sales.serverkit import sign_up_over, stage_sale
from tests.servers import serve

pytestmark = pytest.mark.redis
REDIS_URL = os.environ.get("LIVECART_TEST_WINDOW_REDIS_URL", "redis://127.0.0.1:6379/8")
SECRET = "shared-window-test-secret"
UNITS, BUYERS = 5, 16


async def test_fair_window_draws_both_processes_together(database_url: str, tmp_path: Path) -> None:
    env = {
        "LIVECART_SALE_GATE": "redis",
        "REDIS_URL": empty_redis(REDIS_URL),
        "LIVECART_SECRET_KEY": SECRET,
    }
    data_dir = tmp_path / "window"
    with serve(database_url, data_dir, **env) as a, serve(database_url, data_dir, **env) as b:
        async with (
            httpx.AsyncClient(base_url=a.base, timeout=30) as on_a,
            httpx.AsyncClient(base_url=b.base, timeout=30) as on_b,
        ):
            staged = await stage_sale(
                on_a,
                buyers=BUYERS,
                units=UNITS,
                per_buyer_limit=1,
                countdown_ms=1500,
                mode="fair_window",
                window_ms=2000,
            )
            sale, buyers = staged.sale, staged.buyers
            ids = [(await on_a.get("/api/v1/me", headers=h)).json()["id"] for h in buyers]
            keys = [uuid.uuid4().hex for _ in buyers]
            opens_at = datetime.fromisoformat(sale["opens_at"])
            await asyncio.sleep(max(0.0, (opens_at - datetime.now(UTC)).total_seconds()) + 0.05)

            def attempt(i: int) -> Any:
                http = on_a if i % 2 else on_b  # half the buyers on each process
                return http.post(
                    f"/api/v1/sales/{sale['id']}/purchase",
                    json={"quantity": 1},
                    headers={**buyers[i], "Idempotency-Key": keys[i]},
                )

            answers = await asyncio.gather(*(attempt(i) for i in range(BUYERS)))
            codes = sorted(r.status_code for r in answers)
            assert codes == [201] * UNITS + [409] * (BUYERS - UNITS), [r.text for r in answers]

            doc = (await on_b.get(f"/api/v1/sales/{sale['id']}/allocation")).json()
            assert fair.verify(doc) == []
            assert len(doc["entries"]) == BUYERS  # both processes' requests, in one draw
            assert [e["outcome"] for e in doc["entries"]] == ["won"] * UNITS + ["sold_out"] * (
                BUYERS - UNITS
            )
            for buyer_id, key, answer in zip(ids, keys, answers, strict=True):
                name = fair.pseudonym(SECRET, sale["id"], buyer_id)
                line = next(
                    e
                    for e in doc["entries"]
                    if e["pseudonym"] == name and e["key_hash"] == fair.key_hash(key)
                )
                assert (line["outcome"] == "won") == (answer.status_code == 201), line

            # A winner's repeat, on the other process, gets its first answer.
            winner = next(i for i, r in enumerate(answers) if r.status_code == 201)
            again = await (on_b if winner % 2 else on_a).post(
                f"/api/v1/sales/{sale['id']}/purchase",
                json={"quantity": 1},
                headers={**buyers[winner], "Idempotency-Key": keys[winner]},
            )
            assert (again.status_code, again.json()["id"]) == (200, answers[winner].json()["id"])
            late = await sign_up_over(on_a, "viewer")
            after = await on_b.post(
                f"/api/v1/sales/{sale['id']}/purchase",
                json={"quantity": 1},
                headers={**late, "Idempotency-Key": uuid.uuid4().hex},
            )
            assert (after.status_code, after.json()["code"]) == (409, "sold_out")
    redis.Redis.from_url(REDIS_URL).flushdb()
