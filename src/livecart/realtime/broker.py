"""Room channels between processes: in-process memory, or Redis pub/sub (one channel per room).

`publish` stamps the event with the room's next sequence number and delivers the encoded bytes to
every subscriber in every process, in sequence order. With Redis both steps are one Lua script, so
two processes publishing to one room cannot deliver out of order. Each sequence has an `epoch`: if
the counter is lost (a Redis restart), a new epoch tells clients that old numbers mean nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger(__name__)

Deliver = Callable[[int, int, bytes], None]
"""Called with (room_id, seq, encoded event) for every event of a subscribed room."""


def stamp(seq: int, body: bytes) -> bytes:
    """Insert `"seq":N` as the first key of an encoded JSON object."""
    return b'{"seq":%d,%s' % (seq, body[1:]) if body != b"{}" else b'{"seq":%d}' % seq


def seq_of(data: bytes) -> int:
    return int(data[7 : data.index(b",")]) if b"," in data else int(data[7:-1])


class Broker(Protocol):
    async def start(self) -> None: ...
    async def close(self) -> None: ...
    async def publish(self, room_id: int, body: bytes) -> int: ...
    async def subscribe(self, room_id: int) -> None: ...
    async def unsubscribe(self, room_id: int) -> None: ...
    async def position(self, room_id: int) -> tuple[str, int]: ...


class MemoryBroker:
    """The embedded default: one process, sequence numbers in memory."""

    def __init__(self, deliver: Deliver) -> None:
        self._deliver = deliver
        self._seq: dict[int, int] = {}
        self._subscribed: set[int] = set()
        self.epoch = secrets.token_hex(4)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self._subscribed.clear()

    async def publish(self, room_id: int, body: bytes) -> int:
        seq = self._seq.get(room_id, 0) + 1
        self._seq[room_id] = seq
        if room_id in self._subscribed:
            self._deliver(room_id, seq, stamp(seq, body))
        return seq

    async def subscribe(self, room_id: int) -> None:
        self._subscribed.add(room_id)

    async def unsubscribe(self, room_id: int) -> None:
        self._subscribed.discard(room_id)

    async def position(self, room_id: int) -> tuple[str, int]:
        return self.epoch, self._seq.get(room_id, 0)


# KEYS[1] = seq counter, KEYS[2] = epoch; ARGV[1] = channel, ARGV[2] = body, ARGV[3] = new epoch.
_PUBLISH_LUA = """
local seq = redis.call('INCR', KEYS[1])
if seq == 1 then redis.call('SET', KEYS[2], ARGV[3]) end
local body = ARGV[2]
local msg
if body == '{}' then msg = '{"seq":' .. seq .. '}'
else msg = '{"seq":' .. seq .. ',' .. string.sub(body, 2) end
redis.call('PUBLISH', ARGV[1], msg)
return seq
"""


def _keys(room_id: int) -> tuple[str, str, str]:
    tag = f"{{room:{room_id}}}"  # one hash slot per room, ready for Redis Cluster
    return f"livecart:{tag}:seq", f"livecart:{tag}:epoch", f"livecart:room:{room_id}"


class RedisBroker:
    """Scale-out: one pub/sub connection per process, one channel subscription per room."""

    def __init__(self, url: str, deliver: Deliver) -> None:
        from redis.asyncio import Redis

        self._redis = Redis.from_url(url)
        self._deliver = deliver
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        self._script = self._redis.register_script(_PUBLISH_LUA)
        self._reader: asyncio.Task[None] | None = None
        self._subscribed: set[int] = set()

    async def start(self) -> None:
        await self._redis.ping()

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self._pubsub.aclose()  # type: ignore[no-untyped-call]
        await self._redis.aclose()

    async def publish(self, room_id: int, body: bytes) -> int:
        seq_key, epoch_key, channel = _keys(room_id)
        seq = await self._script(
            keys=[seq_key, epoch_key], args=[channel, body, secrets.token_hex(4)]
        )
        return int(seq)

    async def subscribe(self, room_id: int) -> None:
        if room_id in self._subscribed:
            return
        self._subscribed.add(room_id)
        await self._pubsub.subscribe(_keys(room_id)[2])
        if self._reader is None:
            self._reader = asyncio.create_task(self._read(), name="redis-broker-reader")

    async def unsubscribe(self, room_id: int) -> None:
        if room_id in self._subscribed:
            self._subscribed.discard(room_id)
            await self._pubsub.unsubscribe(_keys(room_id)[2])

    async def position(self, room_id: int) -> tuple[str, int]:
        seq_key, epoch_key, _ = _keys(room_id)
        seq, epoch = await self._redis.mget([seq_key, epoch_key])
        if isinstance(epoch, bytes):
            epoch = epoch.decode()
        return epoch or "-", int(seq or 0)

    async def _read(self) -> None:
        prefix = len("livecart:room:")
        while True:
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("redis broker: read failed; retrying")
                await asyncio.sleep(0.5)
                continue
            if message is None:
                continue
            data: bytes = message["data"]
            room_id = int(message["channel"][prefix:])
            self._deliver(room_id, seq_of(data), data)
