"""The ceiling for the Redis gate: how many times a second this machine's Redis runs the gate's
own Lua script with one attempt per call, measured with `redis-benchmark` (50 clients, no
pipelining) on the benchmark's Redis database. Every call grants (the sale is huge), so each
one does the full work."""

from __future__ import annotations

import re
import shutil
import subprocess
from urllib.parse import urlparse

import redis

from livecart.features.sales.redis_arbiter import RESERVE_LUA, sale_keys

CEILING_SALE = 999_999_999
CALLS = 200_000


def eval_ceiling(redis_url: str, *, calls: int = CALLS) -> float:
    exe = shutil.which("redis-benchmark")
    if exe is None:
        return 0.0
    url = urlparse(redis_url)
    db = int((url.path or "/0").lstrip("/") or 0)
    keys = sale_keys(CEILING_SALE)
    client = redis.Redis.from_url(redis_url)
    client.delete(*keys)
    client.hset(keys[0], mapping={"allotted": 10**12, "limit": 10**9, "taken": 0})
    script = " ".join(RESERVE_LUA.split())  # one line: redis-benchmark takes it as one argument
    command = [
        exe,
        "-h",
        url.hostname or "127.0.0.1",
        "-p",
        str(url.port or 6379),
        "--dbnum",
        str(db),
        "-n",
        str(calls),
        "-c",
        "50",
        "-r",
        "1000000",
        "-q",
        "EVAL",
        script,
        "3",
        *keys,
        "1",  # one attempt per call: the rate of single decisions (the gate batches them)
        "__rand_int__",
        "__rand_int__:bench-key",
        "1",
    ]
    try:
        # Our own fixed command line; no untrusted input.
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)  # noqa: S603
    finally:
        client.delete(*keys)
        client.close()
    found = re.findall(r"([0-9.]+) requests per second", done.stdout)
    return float(found[-1]) if found else 0.0
