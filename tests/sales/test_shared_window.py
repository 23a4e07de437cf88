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
from tests.conftest import IN_CI
from tests.sales.test_crash import _sign_up
from tests.servers import serve

pytestmark = pytest.mark.redis
REDIS_URL = os.environ.get("LIVECART_TEST_WINDOW_REDIS_URL", "redis://127.0.0.1:6379/8")
SECRET = "shared-window-test-secret"
UNITS, BUYERS = 5, 16


async def _fair_sale(http: httpx.AsyncClient) -> dict[str, Any]:
    merchant = await _sign_up(http, "merchant", merchant_name="Window shop")
    product = (
        await http.post(
            "/api/v1/products",
            headers=merchant,
            json={
                "title": "Window tea",
                "category": "other",
                "open_to_hosts": True,
                "variants": [{"sku": "W-1", "price": "5.00", "stock": 100}],
            },
        )
    ).json()
    host = await _sign_up(http, "host")
    show = (
        await http.post(
            "/api/v1/shows",
            headers=host,
            json={
                "title": "Window show",
                "planned_start": "2026-12-31T00:00:00Z",
                "product_ids": [product["id"]],
            },
        )
    ).json()
    assert (await http.post(f"/api/v1/shows/{show['id']}/go-live", headers=host)).status_code == 200
    resp = await http.post(
        f"/api/v1/shows/{show['id']}/sales",
        headers=host,
        json={
            "variant_id": product["variants"][0]["id"],
            "price": "1.00",
            "units": UNITS,
            "per_buyer_limit": 1,
            "countdown_ms": 1500,
            "mode": "fair_window",
            "window_ms": 2000,
        },
    )
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


async def test_fair_window_draws_both_processes_together(database_url: str, tmp_path: Path) -> None:
    try:
        redis.Redis.from_url(REDIS_URL).flushdb()
    except redis.RedisError:
        if IN_CI:
            pytest.fail(f"Redis is not reachable at {REDIS_URL} and CI is set")
        pytest.skip("Redis is not reachable; CI=true makes this a failure")
    env = {"LIVECART_SALE_GATE": "redis", "REDIS_URL": REDIS_URL, "LIVECART_SECRET_KEY": SECRET}
    data_dir = tmp_path / "window"
    with serve(database_url, data_dir, **env) as a, serve(database_url, data_dir, **env) as b:
        async with (
            httpx.AsyncClient(base_url=a.base, timeout=30) as on_a,
            httpx.AsyncClient(base_url=b.base, timeout=30) as on_b,
        ):
            buyers = [await _sign_up(on_a, "viewer") for _ in range(BUYERS)]
            sale = await _fair_sale(on_a)  # after the sign-ups: the window is short
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
            late = await _sign_up(on_a, "viewer")
            after = await on_b.post(
                f"/api/v1/sales/{sale['id']}/purchase",
                json={"quantity": 1},
                headers={**late, "Idempotency-Key": uuid.uuid4().hex},
            )
            assert (after.status_code, after.json()["code"]) == (409, "sold_out")
    redis.Redis.from_url(REDIS_URL).flushdb()
