"""A load-generator process for `bench flash-sale`: keep-alive HTTP/1.1 connections, each firing
purchase attempts as fast as the answers come. Reads its job as one JSON line on stdin, prints
`ready`, waits for a `go SALE_ID` line, then prints one JSON line of results."""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from typing import Any

import uvloop


async def _request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes
) -> tuple[int, bytes]:
    writer.write(raw)
    status_line = await reader.readline()
    status = int(status_line.split(b" ", 2)[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)


async def run(job: dict[str, Any]) -> dict[str, Any]:
    targets = [(str(h), int(p)) for h, p in job["targets"]]  # one per server process
    host = targets[0][0]
    tokens: list[str] = job["tokens"]
    # status, seconds, claim id, when it was sent (seconds after the first)
    results: list[tuple[int, float, int | None, float]] = []
    queue: asyncio.Queue[str] = asyncio.Queue()
    for token in tokens:
        queue.put_nowait(token)
    conns = [  # spread over the server processes, round robin
        await asyncio.open_connection(*targets[i % len(targets)]) for i in range(job["connections"])
    ]
    print("ready", flush=True)
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    sale = int(line.split()[1])
    body = b'{"quantity":1}'

    async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while not queue.empty():
            token = queue.get_nowait()
            raw = (
                f"POST /api/v1/sales/{sale}/purchase HTTP/1.1\r\nHost: {host}\r\n"
                f"Authorization: Bearer {token}\r\nIdempotency-Key: {uuid.uuid4().hex}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body
            start = time.perf_counter()
            status, answer = await _request(reader, writer, raw)
            claim = json.loads(answer)["id"] if status == 201 else None
            results.append((status, time.perf_counter() - start, claim, start - started))

    started, cpu_started = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker(r, w) for r, w in conns))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    for _, writer in conns:
        writer.close()
    return {"results": results, "elapsed": elapsed, "cpu": cpu, "t0": started}


def main() -> None:
    job = json.loads(sys.stdin.readline())
    print(json.dumps(uvloop.run(run(job))), flush=True)


if __name__ == "__main__":
    main()
