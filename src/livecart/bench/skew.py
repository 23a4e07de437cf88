"""`livecart bench drop-skew`: how far apart viewers' buy buttons unlock, in true time.

Each simulated viewer gets a round trip between MIN and MAX ms (delay injected in the client
transport: half each way, with ±5% jitter per message) and a local clock that is off by up to
±2 s. It syncs its clock the way the browser client does (pings; the offset of the lowest-RTT
sample), then unlocks at `opens_at` in estimated server time. We record the true instant of each
unlock (this machine's clock is the server's) and compare with the naive way (count down from the
moment the message arrives).
"""

from __future__ import annotations

import asyncio
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import websockets

from livecart.bench.fanout import percentile
from livecart.bench.servers import Server, serve
from livecart.bench.stage import Stage, live_show

PINGS = 8
CLOCK_ERROR_MS = 2000.0
JITTER = 0.05


class SimulatedViewer:
    def __init__(self, rtt_ms: float, rng: random.Random) -> None:
        self.one_way = rtt_ms / 2000
        self.clock_error = rng.uniform(-CLOCK_ERROR_MS, CLOCK_ERROR_MS) / 1000
        self.rng = rng
        self.samples: list[tuple[float, float]] = []  # (rtt, offset), seconds

    def local_now(self) -> float:
        return time.time() + self.clock_error

    async def _delay(self) -> None:
        await asyncio.sleep(self.one_way * (1 + self.rng.uniform(-JITTER, JITTER)))

    async def send(self, ws: websockets.ClientConnection, message: dict[str, Any]) -> None:
        await self._delay()
        await ws.send(json.dumps(message))

    async def recv(self, ws: websockets.ClientConnection) -> dict[str, Any]:
        message = json.loads(await ws.recv())
        await self._delay()
        return dict(message)

    def offset(self) -> float:
        """Server minus local clock, from the lowest round trip seen."""
        return min(self.samples)[1]

    async def run(self, url: str, ready: asyncio.Barrier) -> tuple[float, float]:
        """Returns (true unlock time with sync, true unlock time counting from arrival)."""
        async with websockets.connect(url) as ws:
            await self.send(ws, {"type": "hello"})
            while (await self.recv(ws))["type"] != "snapshot":
                continue
            for _ in range(PINGS):
                t0 = self.local_now()
                await self.send(ws, {"type": "ping", "t0": t0 * 1000})
                while (pong := await self.recv(ws))["type"] != "pong":
                    continue
                t1 = self.local_now()
                rtt = t1 - t0
                self.samples.append((rtt, pong["server_time"] / 1000 + rtt / 2 - t1))
            await ready.wait()
            while (drop := await self.recv(ws))["type"] != "drop_opened":
                continue
            arrived = time.time()
            countdown = (drop["opens_at"] - drop["t_event"]) / 1000
            unlock_local = drop["opens_at"] / 1000 - self.offset()
            await asyncio.sleep(max(0.0, unlock_local - self.local_now()))
            synced = time.time()
            return synced, arrived + countdown


async def measure(
    server: Server, stage: Stage, viewers: int, low: float, high: float
) -> dict[str, Any]:
    from livecart.bench.fanout import drop_from_host

    rng = random.Random(20261125)
    url = f"{server.room_base}/rooms/{stage.show_id}"
    ready = asyncio.Barrier(viewers + 1)
    sims = [
        SimulatedViewer(low + (high - low) * i / max(1, viewers - 1), random.Random(rng.random()))
        for i in range(viewers)
    ]
    tasks = [asyncio.create_task(s.run(url, ready)) for s in sims]
    await ready.wait()
    await drop_from_host(server, stage, countdown_ms=3000)
    results = await asyncio.gather(*tasks)
    opens_at = None
    synced = [r[0] for r in results]
    naive = [r[1] for r in results]
    async with websockets.connect(url) as ws:  # read the drop's opens_at from a snapshot
        await ws.send(json.dumps({"type": "hello"}))
        while (snap := json.loads(await ws.recv()))["type"] != "snapshot":
            continue
        opens_at = snap["drops"][-1]["opens_at"] / 1000
    synced_err = [abs(t - opens_at) * 1000 for t in synced]
    naive_err = [abs(t - opens_at) * 1000 for t in naive]
    return {
        "viewers": viewers,
        "rtt_ms": [low, high],
        "delay": "client-transport injection (half the round trip each way, ±5% jitter)",
        "clock_error_ms": CLOCK_ERROR_MS,
        "skew_p50_ms": round(percentile(synced_err, 50), 2),
        "skew_p99_ms": round(percentile(synced_err, 99), 2),
        "spread_ms": round((max(synced) - min(synced)) * 1000, 2),
        "unsynced_skew_p50_ms": round(percentile(naive_err, 50), 2),
        "unsynced_skew_p99_ms": round(percentile(naive_err, 99), 2),
        "unsynced_spread_ms": round((max(naive) - min(naive)) * 1000, 2),
    }


def drop_skew(viewers: int, low: float, high: float, database_url: str = "") -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="livecart-bench-") as tmp:
        data = Path(tmp)
        with serve(
            database_url or f"sqlite:///{data / 'bench.db'}",
            data,
            log_level="warning",
            REDIS_URL="",
        ) as server:
            stage = live_show(server.base)
            return asyncio.run(measure(server, stage, viewers, low, high))
