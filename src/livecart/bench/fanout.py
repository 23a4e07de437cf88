"""`livecart bench fanout`: one link drop to N real WebSocket viewers on loopback.

Viewers are opened by separate load-generator processes (picows + uvloop) so that the generator
does not measure itself. Latency is from the host sending `drop` to each viewer receiving
`drop_opened`, on one machine clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import websockets

from livecart.bench.servers import Server, serve
from livecart.bench.stage import Stage, live_show

REPORT_LIMIT_BYTES = 64 * 1024 * 1024


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def start_viewers(
    urls: list[str], viewers: int, clients: int, extra: dict[str, Any]
) -> list[asyncio.subprocess.Process]:
    procs = []
    for i in range(clients):
        count = viewers // clients + (1 if i < viewers % clients else 0)
        job = {"urls": urls, "count": count, **extra}
        procs.append(
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "livecart.bench.viewers",
                json.dumps(job),
                stdout=asyncio.subprocess.PIPE,
                limit=REPORT_LIMIT_BYTES,  # one line holds every receive time
            )
        )
    for proc in procs:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), timeout=300)
        if line.strip() != b"ready":
            raise RuntimeError(f"a viewer process failed to get ready: {line!r}")
    return procs


async def collect(procs: list[asyncio.subprocess.Process]) -> tuple[list[int], int]:
    received: list[int] = []
    expected = 0
    for proc in procs:
        assert proc.stdout is not None
        report = json.loads(await proc.stdout.readline())
        received += report["received"]
        expected += report["expected"]
        await proc.wait()
    return received, expected


async def drop_from_host(server: Server, stage: Stage, countdown_ms: int = 3000) -> int:
    """Send the drop as the host; returns the send time (ns)."""
    async with websockets.connect(f"{server.room_base}/rooms/{stage.show_id}") as ws:
        await ws.send(json.dumps({"type": "hello", "token": stage.host_token}))
        while json.loads(await ws.recv())["type"] != "snapshot":
            continue  # skip what comes before the snapshot
        sent = time.time_ns()
        await ws.send(
            json.dumps(
                {"type": "drop", "product_id": stage.product_id, "countdown_ms": countdown_ms}
            )
        )
        while json.loads(await ws.recv())["type"] != "drop_opened":
            continue  # ticks and the like
    return sent


async def run_fanout(
    servers: list[Server], stage: Stage, viewers: int, clients: int
) -> dict[str, Any]:
    urls = [f"{s.room_base}/rooms/{stage.show_id}" for s in servers]
    rss_before = sum(s.rss_bytes() for s in servers)
    procs = await start_viewers(urls, viewers, clients, {})
    await asyncio.sleep(1.0)  # let the joins settle
    rss_after = sum(s.rss_bytes() for s in servers)
    sent = await drop_from_host(servers[0], stage)
    received, expected = await collect(procs)
    latencies = [(r - sent) / 1e6 for r in received]
    spread_ms = (max(received) - min(received)) / 1e6 if received else float("nan")
    return {
        "viewers": viewers,
        "processes": len(servers),
        "client_processes": clients,
        "p50_ms": round(percentile(latencies, 50), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
        "max_ms": round(max(latencies), 2) if latencies else None,
        "mean_ms": round(statistics.fmean(latencies), 2) if latencies else None,
        "spread_ms": round(spread_ms, 2),
        "us_per_viewer_per_broadcast": round(spread_ms * 1000 / max(1, viewers // len(servers)), 2),
        "server_rss_bytes_per_viewer": round((rss_after - rss_before) / viewers),
        "lost": expected - len(received),
    }


def fanout(
    viewers: int, processes: int, clients: int, redis_url: str, database_url: str = ""
) -> dict[str, Any]:
    if processes > 1 and not redis_url:
        raise SystemExit("error: more than one server process needs Redis (--redis-url)")
    with (
        tempfile.TemporaryDirectory(prefix="livecart-bench-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        data = Path(tmp)
        database_url = database_url or f"sqlite:///{data / 'bench.db'}"
        env = {"REDIS_URL": redis_url} if processes > 1 else {"REDIS_URL": ""}
        servers = [
            stack.enter_context(serve(database_url, data, log_level="warning", **env))
            for _ in range(processes)
        ]
        stage = live_show(servers[0].base)
        try:
            return asyncio.run(run_fanout(servers, stage, viewers, clients))
        except RuntimeError as exc:
            logs = "\n".join(s.log.read_text()[-3000:] for s in servers)
            raise SystemExit(f"error: {exc}\nserver logs (tail):\n{logs}") from exc
