"""fair_window across processes (the Redis gate): every process's requests of the window go into
one Redis hash; at the window's end one process (whichever takes the lock) closes the window and
reads them in the same script, decides them in lot order with the arbiter, writes the allocation
log, and publishes each decision; every process answers its own waiting callers from them, and
writes its own winners' claims as for any other purchase.

A request that arrives once the window is closed waits until the window is decided and is then
first come, first served, so it can never get ahead of one that came in time. If Redis loses the
window (a restart), requests it lost are decided first come after the others.

Keys (one hash slot with the sale's other keys): `{sale:<id>}:win` (request → quantity),
`:win:closed`, `:win:lock`, `:win:done` (request → decision), `:win:alldone`.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import TYPE_CHECKING

from redis.asyncio import Redis
from redis.exceptions import RedisError

from livecart.errors import AppError
from livecart.features.sales.arbiter import Outcome, Reservation, SaleInfo
from livecart.features.sales.redis_arbiter import unavailable
from livecart.features.sales.window import draw
from livecart.kit.clock import utcnow

if TYPE_CHECKING:
    from livecart.features.sales.gate import SaleGate

log = logging.getLogger(__name__)
POLL_SECS = 0.02
DECIDE_TIMEOUT_SECS = 30.0
LOCK_MS = 60_000
KEEP_SECS = 24 * 3600

# KEYS: win, closed; ARGV: field, quantity, keep seconds.
# -1: the window is closed; 0: entered; n > 0: entered before with quantity n.
ENTER_LUA = """
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
local earlier = redis.call('HGET', KEYS[1], ARGV[1])
if earlier then return tonumber(earlier) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 0
"""
# KEYS: win, closed, lock; ARGV: token, lock ms, keep seconds.
# The window's requests for the process that takes the lock; false for the others.
CLOSE_LUA = """
if not redis.call('SET', KEYS[3], ARGV[1], 'NX', 'PX', ARGV[2]) then return false end
redis.call('SET', KEYS[2], '1', 'EX', ARGV[3])
return redis.call('HGETALL', KEYS[1])
"""


def window_keys(sale_id: int) -> tuple[str, str, str, str, str]:
    base = f"{{sale:{sale_id}}}:win"
    return base, f"{base}:closed", f"{base}:lock", f"{base}:done", f"{base}:alldone"


def _field(buyer_id: int, key: str) -> str:
    return f"{buyer_id}:{key}"


def _encode(decided: Reservation) -> str:
    return f"{decided.outcome.value}:{decided.quantity}:{decided.left}"


def _decode(text: str) -> Reservation:
    outcome, quantity, left = text.rsplit(":", 2)
    return Reservation(Outcome(outcome), int(left), int(quantity))


class SharedFairWindow:
    def __init__(self, gate: SaleGate, sale: SaleInfo, redis: Redis) -> None:
        self.gate, self.sale, self.redis = gate, sale, redis
        self._enter = redis.register_script(ENTER_LUA)
        self._close_script = redis.register_script(CLOSE_LUA)
        self.keys = window_keys(sale.id)
        self._decided: asyncio.Task[None] | None = None
        self._closing: asyncio.Task[None] | None = None
        loop = asyncio.get_running_loop()
        delay = max(0.0, (sale.window_ends - utcnow()).total_seconds())
        self._timer = loop.call_later(delay, self._close)

    async def enter(self, buyer_id: int, key: str, quantity: int) -> Reservation:
        win, closed, _, done, _ = self.keys
        field = _field(buyer_id, key)
        try:
            earlier = int(await self._enter(keys=[win, closed], args=[field, quantity, KEEP_SECS]))
        except RedisError as exc:
            raise unavailable() from exc
        if earlier > 0 and earlier != quantity:
            raise AppError(
                "idempotency_key_reused",
                "This idempotency key was used for a different request.",
                status=422,
            )
        await self.decided()
        try:
            text = await self.redis.hget(done, field)
        except RedisError as exc:
            raise unavailable() from exc
        if text is not None:
            return _decode(text.decode() if isinstance(text, bytes) else str(text))
        # Late, or lost by a Redis restart: first come, after every request of the window.
        return await self.gate.arbiter.reserve(self.sale, buyer_id, key, quantity)

    def cancel(self) -> None:
        self._timer.cancel()
        for task in (self._closing, self._decided):
            if task is not None:
                task.cancel()

    def _close(self) -> None:
        self._closing = asyncio.get_running_loop().create_task(self._allocate())

    async def decided(self) -> None:
        """Wait until the window is decided (by this process or another)."""
        if self._decided is None:
            self._decided = asyncio.get_running_loop().create_task(self._wait_decided())
        await asyncio.shield(self._decided)

    async def _wait_decided(self) -> None:
        alldone = self.keys[4]
        loop = asyncio.get_running_loop()
        deadline = (
            loop.time()
            + max(0.0, (self.sale.window_ends - utcnow()).total_seconds())
            + DECIDE_TIMEOUT_SECS
        )
        while True:
            try:
                if await self.redis.exists(alldone):
                    return
            except RedisError as exc:
                log.warning("sale %s: waiting for the fair window: %r", self.sale.id, exc)
            if loop.time() > deadline:
                raise unavailable()
            await asyncio.sleep(POLL_SECS)

    async def _allocate(self) -> None:
        win, closed, lock, done, alldone = self.keys
        try:
            entries = await self._close_script(
                keys=[win, closed, lock], args=[secrets.token_hex(8), LOCK_MS, KEEP_SECS]
            )
            if entries is None:
                return  # another process decides this window
            requests = _pairs(entries)
            decisions = await self._decide(requests)
            if decisions:
                flat = [x for pair in decisions.items() for x in pair]
                await self.redis.hset(done, items=flat)
                await self.redis.expire(done, KEEP_SECS)
            await self.redis.set(alldone, "1", ex=KEEP_SECS)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("sale %s: deciding the fair window failed", self.sale.id)

    async def _decide(self, requests: dict[str, int]) -> dict[str, str]:
        asked = []
        for field, quantity in requests.items():
            buyer, key = field.split(":", 1)
            asked.append((int(buyer), key, quantity))
        decided = await draw(self.gate, self.sale, asked)
        return {_field(b, k): _encode(d) for (b, k, _), d in decided}


def _pairs(flat: list[bytes | str]) -> dict[str, int]:
    text = [x.decode() if isinstance(x, bytes) else str(x) for x in flat]
    return {text[i]: int(text[i + 1]) for i in range(0, len(text), 2)}
