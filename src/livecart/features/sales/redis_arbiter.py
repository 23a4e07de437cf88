"""The scale-out arbiter: one Lua script per attempt over the sale's keys in Redis.

Keys share the hash tag `{sale:<id>}`, so a sale lives in one Redis Cluster slot and the script
may touch all of them: `…:state` (allotted, limit, taken), `…:buyers` (buyer → units) and
`…:reqs` (`buyer:key` → quantity of each winning request). Redis keeps nothing on disk here, so
the database is the record: when the keys are missing (a restart, a flush) the script says so
and they are rebuilt from the database before the attempt is tried again.

Losers after sold-out never reach Redis: a per-process flag, refreshed at most every
SOLD_OUT_TTL_SECS, answers them. A buyer who holds units in the sale still goes to Redis, so a
repeat of a winning request always finds its claim.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from livecart.errors import AppError
from livecart.features.sales.arbiter import (
    Ledger,
    LedgerReader,
    Outcome,
    Reservation,
    SaleInfo,
)

SOLD_OUT_TTL_SECS = 1.0  # how stale a process's sold-out flag may be (units returned by expiry)

# KEYS: state, buyers, reqs. ARGV: buyer, request field (buyer:key), quantity.
# Returns {code, left, quantity}: -1 keys missing, 0 sold out, 1 granted, 2 repeat, 3 limit.
RESERVE_LUA = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, 0, 0} end
local earlier = redis.call('HGET', KEYS[3], ARGV[2])
local s = redis.call('HMGET', KEYS[1], 'allotted', 'taken', 'limit')
local allotted, taken, limit = tonumber(s[1]), tonumber(s[2]), tonumber(s[3])
if earlier then return {2, allotted - taken, tonumber(earlier)} end
local q = tonumber(ARGV[3])
if taken + q > allotted then return {0, allotted - taken, 0} end
local held = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if held + q > limit then return {3, allotted - taken, 0} end
redis.call('HINCRBY', KEYS[1], 'taken', q)
redis.call('HINCRBY', KEYS[2], ARGV[1], q)
redis.call('HSET', KEYS[3], ARGV[2], q)
return {1, allotted - taken - q, q}
"""

# KEYS: state, buyers, reqs. ARGV: buyer, quantity, request field or ''.
RELEASE_LUA = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local taken = tonumber(redis.call('HGET', KEYS[1], 'taken'))
redis.call('HSET', KEYS[1], 'taken', math.max(0, taken - tonumber(ARGV[2])))
local held = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
redis.call('HSET', KEYS[2], ARGV[1], math.max(0, held - tonumber(ARGV[2])))
if ARGV[3] ~= '' then redis.call('HDEL', KEYS[3], ARGV[3]) end
return 1
"""

# KEYS: state, buyers, reqs. ARGV: force (1/0), allotted, limit, taken, n buyers, then n
# (buyer, units) pairs, then (field, quantity) pairs. Without force, only if the keys are missing.
LOAD_LUA = """
if ARGV[1] == '0' and redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
redis.call('HSET', KEYS[1], 'allotted', ARGV[2], 'limit', ARGV[3], 'taken', ARGV[4])
local n = tonumber(ARGV[5])
local i = 6
for _ = 1, n do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  i = i + 2
end
while i <= #ARGV do
  redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
  i = i + 2
end
return 1
"""


def sale_keys(sale_id: int) -> list[str]:
    tag = f"livecart:{{sale:{sale_id}}}"
    return [f"{tag}:state", f"{tag}:buyers", f"{tag}:reqs"]


def _field(buyer_id: int, key: str) -> str:
    return f"{buyer_id}:{key}"


def unavailable() -> AppError:
    return AppError("gate_unavailable", "The sale is busy; try again in a moment.", status=503)


class RedisArbiter:
    name = "redis"

    def __init__(self, url: str, read_ledger: LedgerReader) -> None:
        self.redis: Redis = Redis.from_url(
            url,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.02), retries=5),
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
            socket_timeout=5,
        )
        self._read_ledger = read_ledger
        self._reserve = self.redis.register_script(RESERVE_LUA)
        self._release = self.redis.register_script(RELEASE_LUA)
        self._load = self.redis.register_script(LOAD_LUA)
        self._sold_out: dict[int, tuple[float, set[int]]] = {}  # sale → (fresh until, holders)
        self._refreshing: set[int] = set()
        self._loading: dict[int, asyncio.Lock] = {}

    def peek(self, sale: SaleInfo, buyer_id: int, key: str) -> Reservation | None:
        flag = self._sold_out.get(sale.id)
        if flag is None or flag[0] < time.monotonic() or buyer_id in flag[1]:
            return None
        return Reservation(Outcome.SOLD_OUT, 0)

    async def lookup(self, sale: SaleInfo, buyer_id: int, key: str) -> int | None:
        state, _, reqs = sale_keys(sale.id)
        try:
            if not await self.redis.exists(state):
                await self._load_missing(sale)
            earlier = await self.redis.hget(reqs, _field(buyer_id, key))
        except RedisError as exc:
            raise unavailable() from exc
        return None if earlier is None else int(earlier)

    async def reserve(self, sale: SaleInfo, buyer_id: int, key: str, quantity: int) -> Reservation:
        keys = sale_keys(sale.id)
        args: list[int | str] = [buyer_id, _field(buyer_id, key), quantity]
        try:
            code, left, earlier = await self._reserve(keys=keys, args=args)
            if code == -1:  # Redis lost the sale: rebuild it from the database, then try again
                await self._load_missing(sale)
                code, left, earlier = await self._reserve(keys=keys, args=args)
        except RedisError as exc:
            raise unavailable() from exc
        if code == 1:
            return Reservation(Outcome.GRANTED, int(left), int(earlier))
        if code == 2:
            return Reservation(Outcome.REPEAT, int(left), int(earlier))
        if code == 3:
            return Reservation(Outcome.LIMIT, int(left))
        if code == 0:
            if int(left) <= 0:
                await self._flag_sold_out(sale)
            return Reservation(Outcome.SOLD_OUT, int(left))
        raise unavailable()

    async def _flag_sold_out(self, sale: SaleInfo) -> None:
        """Remember that the sale is sold out, with every buyer who holds units in it (their
        repeats must still reach the script). One refresh at a time per sale."""
        flag = self._sold_out.get(sale.id)
        if (flag is not None and flag[0] >= time.monotonic()) or sale.id in self._refreshing:
            return
        self._refreshing.add(sale.id)
        try:
            holders = await self.redis.hkeys(sale_keys(sale.id)[1])
            self._sold_out[sale.id] = (
                time.monotonic() + SOLD_OUT_TTL_SECS,
                {int(b) for b in holders},
            )
        finally:
            self._refreshing.discard(sale.id)

    async def _load_missing(self, sale: SaleInfo) -> None:
        lock = self._loading.setdefault(sale.id, asyncio.Lock())
        async with lock:
            if await self.redis.exists(sale_keys(sale.id)[0]):
                return
            await self._write(sale, await self._read_ledger(sale.id), force=False)

    async def _write(self, sale: SaleInfo, ledger: Ledger, *, force: bool) -> None:
        args: list[Any] = [
            1 if force else 0,
            sale.allotted,
            sale.per_buyer_limit,
            ledger.taken,
            len(ledger.buyers),
        ]
        for buyer_id, units in ledger.buyers.items():
            args += [buyer_id, units]
        for (buyer_id, key), quantity in ledger.requests.items():
            args += [_field(buyer_id, key), quantity]
        await self._load(keys=sale_keys(sale.id), args=args)
        self._sold_out.pop(sale.id, None)

    async def release(
        self, sale: SaleInfo, buyer_id: int, quantity: int, *, key: str | None
    ) -> None:
        field = "" if key is None else _field(buyer_id, key)
        try:
            await self._release(keys=sale_keys(sale.id), args=[buyer_id, quantity, field])
        except RedisError as exc:
            raise unavailable() from exc
        self._sold_out.pop(sale.id, None)

    async def load(self, sale: SaleInfo, ledger: Ledger) -> None:
        await self._write(sale, ledger, force=True)

    async def counters(self, sale: SaleInfo) -> Ledger | None:
        state_key, buyers_key, reqs_key = sale_keys(sale.id)
        state = await self.redis.hgetall(state_key)
        if not state:
            return None
        buyers = await self.redis.hgetall(buyers_key)
        reqs = await self.redis.hgetall(reqs_key)
        requests: dict[tuple[int, str], int] = {}
        for field, quantity in reqs.items():
            text = field.decode() if isinstance(field, bytes) else str(field)
            buyer, _, key = text.partition(":")
            requests[(int(buyer), key)] = int(quantity)
        return Ledger(
            taken=int(state[b"taken"]),
            buyers={int(b): int(t) for b, t in buyers.items() if int(t) > 0},
            requests=requests,
        )

    def forget(self) -> None:
        self._sold_out.clear()

    async def drop(self, sale_id: int) -> None:
        self._sold_out.pop(sale_id, None)
        await self.redis.delete(*sale_keys(sale_id))

    async def close(self) -> None:
        await self.redis.aclose()
