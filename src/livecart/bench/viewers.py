"""A load-generator process: opens many room connections (picows client, uvloop) and reports when
each one received the first `drop_opened`. Run by the benchmarks, one process per share.

Reads its job as JSON from argv[1]; prints `ready` once every connection has its snapshot, then one
JSON line with the receive times (ns, CLOCK_REALTIME, comparable across processes here).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import sys
import time
from typing import Any

import uvloop
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

CONNECT_CONCURRENCY = 64


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Viewer(WSListener):
    def __init__(
        self, job: dict[str, Any], ready: asyncio.Event, done: asyncio.Event, state: dict[str, Any]
    ) -> None:
        super().__init__()
        self.job, self.ready, self.done, self.state = job, ready, done, state
        self.got_snapshot = False
        self.delay_ns = int(job.get("delay_ms", 0) * 1e6)

    def on_ws_connected(self, transport: WSTransport) -> None:
        transport.send(WSMsgType.TEXT, b'{"type":"hello"}')

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if not self.got_snapshot:
            code = (
                transport.close_handshake.recv.code
                if transport.close_handshake and transport.close_handshake.recv
                else None
            )
            self.state["closed_before_snapshot"].append(None if code is None else code.value)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type != WSMsgType.TEXT:
            return
        now = time.time_ns()
        data = frame.get_payload_as_bytes()
        if not self.got_snapshot and b'"type":"snapshot"' in data:
            self.got_snapshot = True
            self.state["snapshots"] += 1
            if self.state["snapshots"] == self.state["expected"]:
                self.ready.set()
        elif b'"type":"drop_opened"' in data and b'"seq"' in data:
            self.state["received"].append(now)
            if len(self.state["received"]) == self.state["expected"]:
                self.done.set()


async def run(job: dict[str, Any]) -> None:
    ready, done = asyncio.Event(), asyncio.Event()
    state: dict[str, Any] = {
        "snapshots": 0,
        "expected": job["count"],
        "received": [],
        "closed_before_snapshot": [],
    }
    limit = asyncio.Semaphore(CONNECT_CONCURRENCY)
    transports: list[WSTransport] = []

    async def open_one(i: int) -> None:
        url = job["urls"][i % len(job["urls"])]
        async with limit:
            transport, _ = await ws_connect(
                lambda: Viewer(job, ready, done, state), url, read_buffer_init_size=1024
            )
            transports.append(transport)

    try:
        await asyncio.gather(*(open_one(i) for i in range(job["count"])))
        await asyncio.wait_for(ready.wait(), timeout=job.get("ready_timeout", 120))
    except (OSError, TimeoutError) as exc:
        print(
            f"failed: {exc!r}; {len(transports)} connected, {state['snapshots']} snapshots "
            f"of {job['count']}; closed before the snapshot, by close code: "
            f"{state['closed_before_snapshot']}",
            flush=True,
        )
        return
    print("ready", flush=True)
    with contextlib.suppress(TimeoutError):  # the report says how many arrived
        await asyncio.wait_for(done.wait(), timeout=job.get("drop_timeout", 30))
    print(json.dumps({"received": state["received"], "expected": job["count"]}), flush=True)
    for t in transports:
        t.disconnect()


def main() -> None:
    raise_fd_limit()
    uvloop.run(run(json.loads(sys.argv[1])))


if __name__ == "__main__":
    main()
