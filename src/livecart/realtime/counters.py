"""Room counters shared by all processes: online viewers (now and peak) and likes."""

from __future__ import annotations

import os
import time
from typing import Protocol

ONLINE_TTL_SECS = 5


class CounterStore(Protocol):
    async def report(
        self, room_id: int, *, online_here: int, likes_here: int
    ) -> tuple[int, int, int]:
        """Add this process's new likes and report its online count.
        Returns (online, peak, likes) across all processes."""
        ...

    async def seed(self, room_id: int, *, likes: int, peak: int) -> None:
        """Start from the saved totals unless the store already has them."""
        ...

    async def close(self) -> None: ...


class MemoryCounters:
    def __init__(self) -> None:
        self._likes: dict[int, int] = {}
        self._peak: dict[int, int] = {}

    async def report(
        self, room_id: int, *, online_here: int, likes_here: int
    ) -> tuple[int, int, int]:
        likes = self._likes.get(room_id, 0) + likes_here
        self._likes[room_id] = likes
        peak = max(self._peak.get(room_id, 0), online_here)
        self._peak[room_id] = peak
        return online_here, peak, likes

    async def seed(self, room_id: int, *, likes: int, peak: int) -> None:
        self._likes.setdefault(room_id, likes)
        self._peak.setdefault(room_id, peak)

    async def close(self) -> None:
        return None


# KEYS: online hash, likes, peak. ARGV: process id, its online count, its new likes, now, ttl.
# Each process's online count carries its report time; stale ones (a dead process) are dropped.
_REPORT_LUA = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. ARGV[4])
local likes = redis.call('INCRBY', KEYS[2], ARGV[3])
local total = 0
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local count, at = string.match(all[i + 1], '(%d+):(%d+)')
  if tonumber(ARGV[4]) - tonumber(at) > tonumber(ARGV[5]) then
    redis.call('HDEL', KEYS[1], all[i])
  else
    total = total + tonumber(count)
  end
end
local peak = tonumber(redis.call('GET', KEYS[3]) or '0')
if total > peak then peak = total; redis.call('SET', KEYS[3], peak) end
redis.call('EXPIRE', KEYS[1], 86400)
return {total, peak, likes}
"""


class RedisCounters:
    def __init__(self, url: str) -> None:
        from redis.asyncio import Redis

        self._redis = Redis.from_url(url)
        self._script = self._redis.register_script(_REPORT_LUA)
        self._me = f"{os.uname().nodename}:{os.getpid()}"

    async def report(
        self, room_id: int, *, online_here: int, likes_here: int
    ) -> tuple[int, int, int]:
        tag = f"livecart:{{room:{room_id}}}"
        total, peak, likes = await self._script(
            keys=[f"{tag}:online", f"{tag}:likes", f"{tag}:peak"],
            args=[self._me, online_here, likes_here, int(time.time()), ONLINE_TTL_SECS],
        )
        return int(total), int(peak), int(likes)

    async def seed(self, room_id: int, *, likes: int, peak: int) -> None:
        tag = f"livecart:{{room:{room_id}}}"
        await self._redis.set(f"{tag}:likes", likes, nx=True)
        await self._redis.set(f"{tag}:peak", peak, nx=True)

    async def close(self) -> None:
        await self._redis.aclose()
