"""The scale-out arbiter: one Lua script over the sale's keys in Redis decides a batch of attempts.

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
import logging
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from livecart.errors import AppError
from livecart.features.sales.arbiter import (
    Decided,
    Ledger,
    LedgerReader,
    Outcome,
    Reservation,
    SaleInfo,
    do_nothing,
)

POOL_CONNECTIONS = 32
POOL_WAIT_SECS = 10.0
SOLD_OUT_TTL_SECS = 1.0
log = logging.getLogger(
    __name__
)  # how stale a process's sold-out flag may be (units returned by expiry)

# KEYS: state, buyers, reqs. ARGV: n, then n (buyer, request field `buyer:key`, quantity), in
# arrival order. Returns {-1} when the keys are missing, else {results, sold_out, holders}:
# results are n (code, left, quantity) — 0 sold out, 1 granted, 2 repeat, 3 over the limit —
# and, when the sale is sold out, every buyer holding units (their repeats must still come here).
RESERVE_LUA = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
local s = redis.call('HMGET', KEYS[1], 'allotted', 'taken', 'limit')
local allotted, taken, limit = tonumber(s[1]), tonumber(s[2]), tonumber(s[3])
local start = taken
local out = {}
for i = 0, tonumber(ARGV[1]) - 1 do
  local buyer, field, q = ARGV[2 + 3 * i], ARGV[3 + 3 * i], tonumber(ARGV[4 + 3 * i])
  local earlier = redis.call('HGET', KEYS[3], field)
  local code, got = 0, 0
  if earlier then
    code, got = 2, tonumber(earlier)
  elseif taken + q <= allotted then
    local held = tonumber(redis.call('HGET', KEYS[2], buyer) or '0')
    if held + q > limit then
      code = 3
    else
      taken = taken + q
      redis.call('HINCRBY', KEYS[2], buyer, q)
      redis.call('HSET', KEYS[3], field, q)
      code, got = 1, q
    end
  end
  out[#out + 1] = code
  out[#out + 1] = allotted - taken
  out[#out + 1] = got
end
if taken ~= start then redis.call('HSET', KEYS[1], 'taken', taken) end
if taken >= allotted then return {out, 1, redis.call('HKEYS', KEYS[2])} end
return {out, 0, {}}
"""
MAX_BATCH = 512
REFUSE_CHUNK = 128  # attempts refused from the sold-out flag per turn of the event loop

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


Attempt = tuple[int, str, int, Decided]  # buyer, field, quantity, whom to tell


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
        # A bounded pool: at the opening thousands of attempts arrive at once, and one
        # connection each would be thousands of sockets (and Redis' maxclients) for no gain —
        # Redis runs scripts one at a time anyway.
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=POOL_CONNECTIONS,
            timeout=POOL_WAIT_SECS,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.02), retries=5),
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
            socket_timeout=5,
        )
        self.redis: Redis = Redis.from_pool(pool)  # closing the client closes the pool
        self._read_ledger = read_ledger
        self.after_batch: Callable[[], None] = do_nothing
        self._reserve = self.redis.register_script(RESERVE_LUA)
        self._release = self.redis.register_script(RELEASE_LUA)
        self._load = self.redis.register_script(LOAD_LUA)
        self._sold_out: dict[int, tuple[float, set[int]]] = {}  # sale → (fresh until, holders)
        self._pending: dict[int, list[Attempt]] = {}
        self._flushing: set[int] = set()
        self._flushers: set[asyncio.Task[None]] = set()
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
        future: asyncio.Future[Reservation] = asyncio.get_running_loop().create_future()
        self.reserve_soon(sale, buyer_id, key, quantity, partial(_resolve, future))
        return await future

    def reserve_soon(
        self, sale: SaleInfo, buyer_id: int, key: str, quantity: int, decided: Decided
    ) -> bool:
        """Queued and decided with the others that arrive meanwhile: one script call per batch
        (in arrival order), so Redis round trips do not limit attempts per second."""
        waiting = self._pending.setdefault(sale.id, [])
        waiting.append((buyer_id, _field(buyer_id, key), quantity, decided))
        if sale.id not in self._flushing:
            self._flushing.add(sale.id)
            task = asyncio.get_running_loop().create_task(self._flush(sale))
            self._flushers.add(task)  # a reference, so that it is not collected while it runs
            task.add_done_callback(self._flushers.discard)
        return True

    def reserve_now(
        self, sale: SaleInfo, buyer_id: int, key: str, quantity: int
    ) -> Reservation | None:
        return None  # Redis decides

    async def prime(self, sale: SaleInfo) -> None:
        try:
            await self._load_missing(sale)
        except RedisError as exc:
            log.warning("sale %s: could not prepare Redis: %r", sale.id, exc)

    async def _flush(self, sale: SaleInfo) -> None:
        try:
            while pending := self._pending.get(sale.id):
                if sale.id in self._sold_out:
                    # Thousands can be waiting here at the opening. Refuse them a chunk at a
                    # time and let the loop turn in between, so that the winners' commits
                    # (a round trip per turn) are not queued behind every refusal.
                    batch = self._refuse_sold_out(sale, pending[:REFUSE_CHUNK])
                    del pending[:REFUSE_CHUNK]
                    if not batch:
                        await asyncio.sleep(0)
                        continue
                else:
                    batch = pending[:MAX_BATCH]
                    del pending[:MAX_BATCH]
                answers: list[Reservation | Exception]
                try:
                    answers = list(await self._decide(sale, batch))
                except RedisError as exc:
                    log.warning("sale %s: Redis refused %d attempts: %r", sale.id, len(batch), exc)
                    answers = [unavailable() for _ in batch]
                except Exception as exc:
                    log.exception("sale %s: deciding %d attempts failed", sale.id, len(batch))
                    answers = [exc for _ in batch]
                for (_, _, _, tell), answer in zip(batch, answers, strict=True):
                    _tell(tell, answer)
                self.after_batch()
        finally:
            self._flushing.discard(sale.id)
            self._pending.pop(sale.id, None)

    def _refuse_sold_out(self, sale: SaleInfo, batch: list[Attempt]) -> list[Attempt]:
        """Answer from the sold-out flag the attempts that queued before it was known (at the
        opening, most of them); the rest still go to Redis."""
        if sale.id not in self._sold_out:
            return batch
        rest: list[Attempt] = []
        for attempt in batch:
            buyer_id, _, _, tell = attempt
            refused = self.peek(sale, buyer_id, "")
            if refused is None:
                rest.append(attempt)
            else:
                _tell(tell, refused)
        return rest

    async def _decide(self, sale: SaleInfo, batch: list[Attempt]) -> list[Reservation]:
        args: list[int | str] = [len(batch)]
        for buyer_id, field, quantity, _ in batch:
            args += [buyer_id, field, quantity]
        keys = sale_keys(sale.id)
        reply = await self._reserve(keys=keys, args=args)
        if reply[0] == -1:  # Redis lost the sale: rebuild it from the database, then try again
            await self._load_missing(sale)
            reply = await self._reserve(keys=keys, args=args)
        out, sold, holders = reply
        if sold:
            self._sold_out[sale.id] = (
                time.monotonic() + SOLD_OUT_TTL_SECS,
                {int(b) for b in holders},
            )
        outcomes = (Outcome.SOLD_OUT, Outcome.GRANTED, Outcome.REPEAT, Outcome.LIMIT)
        return [
            Reservation(outcomes[int(out[i])], int(out[i + 1]), int(out[i + 2]))
            for i in range(0, len(out), 3)
        ]

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


def _tell(decided: Decided, answer: Reservation | BaseException) -> None:
    try:
        decided(answer)
    except Exception:
        log.exception("answering a decided attempt failed")


def _resolve(future: asyncio.Future[Reservation], answer: Reservation | BaseException) -> None:
    if future.done():  # the caller went away
        return
    if isinstance(answer, BaseException):
        future.set_exception(answer)
    else:
        future.set_result(answer)
