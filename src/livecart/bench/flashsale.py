"""`livecart bench flash-sale`: N buyers race for S units over real HTTP against a running server.

Buyers are real accounts with real tokens, written straight into the database (signing up 100,000
accounts through argon2 would take an hour). The load generator is Python (asyncio, keep-alive
HTTP/1.1 connections) in separate processes; the output says so. Afterwards the database is
checked: nothing oversold, every acknowledged purchase stored, no buyer over the limit.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
from sqlalchemy import func, insert, select

from livecart.bench.fanout import percentile
from livecart.bench.servers import serve
from livecart.bench.stage import PASSWORD, live_show
from livecart.config import Settings
from livecart.db.engine import make_engine, make_session_factory
from livecart.features.accounts.models import ApiToken, User
from livecart.features.accounts.security import hash_password
from livecart.features.sales.models import FlashSale, SaleClaim
from livecart.kit.clock import utcnow
from livecart.kit.ids import hash_secret

BATCH = 5000


async def make_buyers(database_url: str, count: int) -> list[str]:
    """`count` viewer accounts with bearer tokens, inserted in bulk; returns the tokens."""
    engine = make_engine(Settings(database_url=database_url).resolved_database_url)
    password_hash = hash_password(PASSWORD)
    tag = secrets.token_hex(3)
    tokens = [secrets.token_urlsafe(24) for _ in range(count)]
    expires = datetime(2100, 1, 1, tzinfo=UTC)
    try:
        async with make_session_factory(engine)() as session:
            for start in range(0, count, BATCH):
                chunk = range(start, min(count, start + BATCH))
                ids = (
                    (
                        await session.execute(
                            insert(User).returning(User.id),
                            [
                                {
                                    "email": f"buyer{i}-{tag}@bench.example.com",
                                    "password_hash": password_hash,
                                    "display_name": f"buyer {i}",
                                    "role": "viewer",
                                    "created_at": utcnow(),
                                }
                                for i in chunk
                            ],
                        )
                    )
                    .scalars()
                    .all()
                )
                await session.execute(
                    insert(ApiToken),
                    [
                        {
                            "user_id": uid,
                            "token_hash": hash_secret(tokens[i]),
                            "expires_at": expires,
                            "created_at": utcnow(),
                        }
                        for uid, i in zip(ids, chunk, strict=True)
                    ],
                )
            await session.commit()
    finally:
        await engine.dispose()
    return tokens


async def check(database_url: str, sale_id: int, acknowledged: list[int]) -> dict[str, int]:
    engine = make_engine(Settings(database_url=database_url).resolved_database_url)
    try:
        async with make_session_factory(engine)() as session:
            sale = await session.get(FlashSale, sale_id)
            assert sale is not None
            stored = set(
                await session.scalars(select(SaleClaim.id).where(SaleClaim.sale_id == sale_id))
            )
            units = await session.scalar(
                select(func.coalesce(func.sum(SaleClaim.quantity), 0)).where(
                    SaleClaim.sale_id == sale_id
                )
            )
            over_limit = len(
                (
                    await session.execute(
                        select(SaleClaim.buyer_id)
                        .where(SaleClaim.sale_id == sale_id)
                        .group_by(SaleClaim.buyer_id)
                        .having(func.sum(SaleClaim.quantity) > 1)
                    )
                ).all()
            )
            return {
                "oversold": max(0, int(units or 0) - sale.allotted, sale.taken - sale.allotted),
                "lost_acknowledged": len(set(acknowledged) - stored),
                "duplicates": len(acknowledged) - len(set(acknowledged)) + over_limit,
                "counters_agree": int(sale.taken == units),
            }
    finally:
        await engine.dispose()


async def fire(
    base: str, sale_id: int, opens_at: datetime, tokens: list[str], processes: int, connections: int
) -> tuple[list[list[Any]], float]:
    url = urlparse(base)
    procs = []
    for i in range(processes):
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "livecart.bench.buyers",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=256 * 1024 * 1024,
        )
        job = {
            "host": url.hostname,
            "port": url.port,
            "sale_id": sale_id,
            "tokens": tokens[i::processes],
            "connections": connections,
        }
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps(job).encode() + b"\n")
        await proc.stdin.drain()
        procs.append(proc)
    for proc in procs:
        assert proc.stdout is not None
        if (await proc.stdout.readline()).strip() != b"ready":
            raise RuntimeError("a buyer process failed to start")
    await asyncio.sleep(max(0.0, (opens_at - datetime.now(UTC)).total_seconds()))
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(b"go\n")
        await proc.stdin.drain()
    results: list[list[Any]] = []
    elapsed = 0.0
    for proc in procs:
        assert proc.stdout is not None
        report = json.loads(await proc.stdout.readline())
        results += report["results"]
        elapsed = max(elapsed, report["elapsed"])
        await proc.wait()
    return results, elapsed


def flash_sale(
    buyers: int, stock: int, database_url: str = "", processes: int = 2, connections: int = 32
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="livecart-bench-") as tmp:
        data = Path(tmp)
        database_url = database_url or f"sqlite:///{data / 'bench.db'}"
        with serve(database_url, data, log_level="warning", REDIS_URL="") as server:
            stage = live_show(server.base, stock=max(stock, 1000))
            tokens = asyncio.run(make_buyers(database_url, buyers))
            with httpx.Client(base_url=server.base, timeout=30) as http:
                resp = http.post(
                    f"/api/v1/shows/{stage.show_id}/sales",
                    headers={"Authorization": f"Bearer {stage.host_token}"},
                    json={
                        "variant_id": stage.variant_id,
                        "price": "1.00",
                        "units": stock,
                        "per_buyer_limit": 1,
                        "countdown_ms": 3000,
                        "duration_secs": 3600,
                    },
                )
                resp.raise_for_status()
                sale = resp.json()
            opens_at = datetime.fromisoformat(sale["opens_at"])
            results, elapsed = asyncio.run(
                fire(server.base, sale["id"], opens_at, tokens, processes, connections)
            )
            acknowledged = [claim for status, _, claim in results if status == 201]
            verdict = asyncio.run(check(database_url, sale["id"], acknowledged))
    latencies = [seconds * 1000 for _, seconds, _ in results]
    wins = [seconds * 1000 for status, seconds, _ in results if status == 201]
    statuses: dict[str, int] = {}
    for status, _, _ in results:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    return {
        "backend": "embedded",
        "database": "postgresql" if database_url.startswith("postgres") else "sqlite",
        "mode": "first_come",
        "buyers": buyers,
        "stock": stock,
        "client": f"python asyncio, {processes} processes x {connections} keep-alive connections",
        "attempts_per_s": round(len(results) / elapsed) if elapsed else None,
        "us_per_attempt": round(elapsed * 1e6 / len(results), 1) if results else None,
        "p50_ms": round(percentile(latencies, 50), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
        "winner_p99_ms": round(percentile(wins, 99), 2),
        "won": len(acknowledged),
        "statuses": statuses,
        **verdict,
        "elapsed_s": round(elapsed, 2),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
