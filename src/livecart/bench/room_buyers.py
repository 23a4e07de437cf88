"""A load-generator process for `bench flash-sale --transport room`: many room connections (picows
client, uvloop), each logged in as one buyer with `hello`, all open and greeted before the sale.
On `go SALE_ID` every connection sends one `buy` and waits for its `buy_result`.

Reads its job as one JSON line on stdin, prints `ready` (or `failed: …`), waits for the `go` line,
then prints one JSON line of results: [ok (1/0), seconds, claim id or null, code or null, sent
(seconds after the first buy)], with the first buy's monotonic time as `t0`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sys
import time
import uuid
from typing import Any

import orjson
import uvloop
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from livecart.bench.viewers import raise_fd_limit

# Logged-in hellos each read the database (token, membership, a personal snapshot): a storm of
# them exhausts the server's connection pool, so each process keeps a few in flight.
HELLO_CONCURRENCY = 8
HELLO_RETRIES = 5
SEND_CHUNK = 64  # buys sent between two turns of the client's loop


class Buyer(WSListener):
    def __init__(self, token: str, state: dict[str, Any]) -> None:
        super().__init__()
        self.token, self.state = token, state
        self.transport: WSTransport | None = None
        self.greeted = False
        self.sent_at = 0.0
        self.answered: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        self.hello()

    def hello(self) -> None:
        assert self.transport is not None
        self.transport.send(WSMsgType.TEXT, orjson.dumps({"type": "hello", "token": self.token}))

    def buy(self, sale_id: int) -> None:
        assert self.transport is not None
        message = {"type": "buy", "sale_id": sale_id, "key": uuid.uuid4().hex}
        self.sent_at = time.perf_counter()
        self.transport.send(WSMsgType.TEXT, orjson.dumps(message))

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type != WSMsgType.TEXT:
            return
        data = frame.get_payload_as_bytes()
        if not self.greeted and b'"type":"snapshot"' in data:
            self.greeted = True
            self.state["greeted"] += 1
            if not self.answered.done():
                self.answered.set_result(True)
            if self.state["greeted"] == self.state["expected"]:
                self.state["ready"].set()
        elif not self.greeted and b'"type":"error"' in data:
            if not self.answered.done():
                self.answered.set_result(False)  # the server was too busy: say hello again
        elif b'"type":"buy_result"' in data:
            answer = orjson.loads(data)
            claim = answer.get("claim") or {}
            self.state["results"].append(
                (
                    1 if answer["ok"] else 0,
                    time.perf_counter() - self.sent_at,
                    claim.get("id"),
                    answer.get("code"),
                    self.sent_at - self.state["started"],
                )
            )
            if len(self.state["results"]) == self.state["expected"]:
                self.state["done"].set()
        elif b'"type":"error"' in data and self.sent_at:
            answer = orjson.loads(data)  # refused before the gate (rate, validation)
            self.state["results"].append(
                (
                    0,
                    time.perf_counter() - self.sent_at,
                    None,
                    answer.get("code"),
                    self.sent_at - self.state["started"],
                )
            )
            if len(self.state["results"]) == self.state["expected"]:
                self.state["done"].set()


async def send_all(buyers: list[Buyer], sale_id: int, *, spread_s: float) -> None:
    """Every buyer presses buy once. With no spread, all at once, as fast as this process can
    send; with a spread, each at a random moment within it (presses after a drop are spread by
    how fast people react), so the server sees a rate of buyers / spread."""
    if spread_s <= 0:
        for n, buyer in enumerate(buyers, 1):
            buyer.buy(sale_id)
            if n % SEND_CHUNK == 0:
                # Let the loop read the answers that have arrived: an answer read only after the
                # last send would count this process's sending time against the server.
                await asyncio.sleep(0)
        return
    rng = random.Random(len(buyers))
    moments = sorted((rng.uniform(0, spread_s), i) for i in range(len(buyers)))
    start = time.perf_counter()
    for n, (moment, i) in enumerate(moments, 1):
        wait = start + moment - time.perf_counter()
        if wait > 0.001:
            await asyncio.sleep(wait)
        buyers[i].buy(sale_id)
        if n % SEND_CHUNK == 0:
            await asyncio.sleep(0)


async def run(job: dict[str, Any]) -> None:
    state: dict[str, Any] = {
        "greeted": 0,
        "expected": len(job["tokens"]),
        "results": [],
        "ready": asyncio.Event(),
        "done": asyncio.Event(),
    }
    limit = asyncio.Semaphore(HELLO_CONCURRENCY)
    buyers: list[Buyer] = []

    urls: list[str] = job["urls"]

    async def open_one(index: int, token: str) -> None:
        async with limit:
            buyer = Buyer(token, state)
            # Buyers are spread over the server processes (one URL each), round robin.
            url = urls[index % len(urls)]
            await ws_connect(lambda: buyer, url, read_buffer_init_size=1024)
            buyers.append(buyer)
            for _ in range(HELLO_RETRIES):
                if await buyer.answered:
                    return
                await asyncio.sleep(0.5)
                buyer.answered = asyncio.get_running_loop().create_future()
                buyer.hello()

    try:
        await asyncio.gather(*(open_one(i, t) for i, t in enumerate(job["tokens"])))
        await asyncio.wait_for(state["ready"].wait(), timeout=job.get("ready_timeout", 600))
    except (OSError, TimeoutError) as exc:
        print(f"failed: {exc!r}; {state['greeted']} of {state['expected']} greeted", flush=True)
        return
    print("ready", flush=True)
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    sale_id = int(line.split()[1])
    started, cpu_started = time.perf_counter(), time.process_time()
    state["started"] = started
    await send_all(buyers, sale_id, spread_s=job.get("spread_ms", 0) / 1000)
    sent = time.perf_counter() - started
    with contextlib.suppress(TimeoutError):  # the report counts what arrived
        await asyncio.wait_for(state["done"].wait(), timeout=job.get("answer_timeout", 300))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    # perf_counter is CLOCK_MONOTONIC on Linux, as t0 is in wsbuyers.c
    report = {
        "results": state["results"],
        "elapsed": elapsed,
        "cpu": cpu,
        "sent": sent,
        "t0": started,
    }
    print(json.dumps(report), flush=True)
    for buyer in buyers:
        if buyer.transport is not None:
            buyer.transport.disconnect()


def main() -> None:
    raise_fd_limit()
    uvloop.run(run(json.loads(sys.stdin.readline())))


if __name__ == "__main__":
    main()
