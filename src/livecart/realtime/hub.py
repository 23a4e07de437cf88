"""Fan-out in one process: the local connections of each room, its recent events, its counters.

Every event reaches this process through the broker (also the ones it published itself), is framed
once and written to each local connection. The last RING_SIZE events of each room are kept so that
a client that reconnects with its last sequence number gets exactly what it missed. Counters
(online, peak, likes, stock left) are not events: they go out as coalesced `tick` messages, at most
TICKS_PER_SEC a second, and only when something changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

import orjson

from livecart.realtime.broker import Broker, Deliver, MemoryBroker, RedisBroker
from livecart.realtime.counters import CounterStore, MemoryCounters, RedisCounters
from livecart.realtime.frames import text_frame

log = logging.getLogger(__name__)

RING_SIZE = 1024
TICKS_PER_SEC = 3  # at most; fewer when writing them is a large share of the loop
TICK_SHARE = 0.1
TICK_WRITES_PER_TURN = 128  # a tick to 10,000 viewers lets the loop turn ~80 times meanwhile
# While `Hub.ticks_wait` says so (a flash sale's winners are being decided and written), ticks
# wait, at most this long at a time: a tick to 10,000 viewers keeps the loop ~100 ms.
MAX_TICK_WAIT_SECS = 2.0
TICK_RECHECK_SECS = 0.01
HIGH_WATER_BYTES = 256 * 1024  # a connection with more unsent data than this is lagging
LOW_WATER_BYTES = 16 * 1024
LAG_CLOSE_SECS = 15.0
EMPTY_ROOM_KEEP_SECS = 60.0
RESYNC_FRAME = text_frame(b'{"type":"resync","reason":"sequence_restarted"}')
LAG_RESYNC_FRAME = text_frame(b'{"type":"resync","reason":"lagging"}')


class Peer(Protocol):
    """One client connection, as the hub sees it. `write` may hold frames while the peer is
    joining; `raw_writer` is the socket's own write, used once it is ready."""

    lagging_since: float | None

    def write(self, frame: bytes) -> None: ...
    def raw_writer(self) -> Callable[[bytes], object]: ...
    def buffered(self) -> int: ...
    def close(self, code: int, reason: str) -> None: ...


@dataclass(eq=False)
class Room:
    room_id: int
    epoch: str = "-"
    last_seq: int = 0
    peers: set[Peer] = field(default_factory=set)
    # Ready peers that keep up, with their socket's write: the broadcast loop is just calls.
    writers: dict[Peer, Callable[[bytes], object]] = field(default_factory=dict)
    ring: deque[tuple[int, bytes]] = field(default_factory=lambda: deque(maxlen=RING_SIZE))
    likes_pending: int = 0
    online: int = 0
    peak: int = 0
    likes: int = 0
    stock: dict[str, int] = field(default_factory=dict)
    last_tick: bytes = b""
    empty_since: float | None = None


@dataclass(frozen=True, slots=True)
class Resume:
    """What a joining client gets: the missed frames, or None when it must resync."""

    frames: list[bytes] | None


class Hub:
    def __init__(self, make_broker: Callable[[Deliver], Broker], counters: CounterStore) -> None:
        self.rooms: dict[int, Room] = {}
        # Set by whoever owns the database: the saved (likes, peak) of a room being opened.
        self.load_counts: Callable[[int], Awaitable[tuple[int, int]]] | None = None
        self._opening: dict[int, asyncio.Future[Room]] = {}
        self.broker = make_broker(self.deliver)
        self.counters = counters
        self._ticker: asyncio.Task[None] | None = None
        self.tick_period = 1 / TICKS_PER_SEC
        # Set by the room gateway: True while a flash sale's possible winners are being decided
        # and written. Ticks wait meanwhile (also one half written), since one to every viewer
        # takes the loop for tens of ms and each of a winner's I/O steps needs a turn of it.
        self.ticks_wait: Callable[[], bool] = _never
        self._waiting_since: float | None = None
        # Told of every event delivered here, after the viewers (e.g. to get ready for a sale
        # that another process opened). Must be quick: they run in the delivery.
        self.observers: list[Callable[[int, bytes], None]] = []
        self._tick_busy = 0.0  # seconds spent writing the last round of ticks

    async def start(self) -> None:
        await self.broker.start()
        self._ticker = asyncio.create_task(self._tick_forever(), name="room-ticks")

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        for room in self.rooms.values():
            for peer in list(room.peers):
                peer.close(1001, "server shutting down")
        await self.broker.close()
        await self.counters.close()

    # --- publishing -------------------------------------------------------------------------

    async def publish(self, room_id: int, event: dict[str, object]) -> int:
        """Send an event to everyone in the room, in every process. Call after commit only."""
        return await self.broker.publish(room_id, orjson.dumps(event))

    def deliver(self, room_id: int, seq: int, data: bytes) -> None:
        """Called by the broker for each event of a room this process is subscribed to."""
        room = self.rooms.get(room_id)
        if room is None or seq == room.last_seq:
            return
        if seq < room.last_seq or seq > room.last_seq + 1:
            self._restart_sequence(room, seq)
        frame = text_frame(data)
        room.last_seq = seq
        room.ring.append((seq, frame))
        # The hot path: one write per viewer, nothing else. Lag is checked on the tick.
        for write in room.writers.values():
            write(frame)
        if len(room.writers) != len(room.peers):
            for peer in room.peers:
                if peer not in room.writers and peer.lagging_since is None:
                    peer.write(frame)  # joining: held until its snapshot is out
        for observe in self.observers:
            observe(room_id, data)

    def _restart_sequence(self, room: Room, seq: int) -> None:
        """A gap (lost pub/sub messages) or a restarted counter (a new epoch): what came before
        can no longer be resumed, so everyone here takes a fresh snapshot."""
        log.warning("room %s: sequence jumped from %s to %s", room.room_id, room.last_seq, seq)
        room.ring.clear()
        if seq < room.last_seq:
            asyncio.get_running_loop().create_task(self._refresh_epoch(room))
        for peer in room.peers:
            peer.write(RESYNC_FRAME)

    async def _refresh_epoch(self, room: Room) -> None:
        room.epoch, _ = await self.broker.position(room.room_id)

    def unready(self, room_id: int, peer: Peer) -> None:
        """Back to going through `peer.write` (which holds frames while a snapshot is built)."""
        room = self.rooms.get(room_id)
        if room is not None:
            room.writers.pop(peer, None)

    def ready(self, room_id: int, peer: Peer) -> None:
        """The peer has its snapshot: from now on events go straight to its socket."""
        room = self.rooms.get(room_id)
        if room is not None and peer in room.peers and peer.lagging_since is None:
            room.writers[peer] = peer.raw_writer()

    # --- membership -------------------------------------------------------------------------

    async def open_room(self, room_id: int) -> Room:
        """The room, subscribed and with its position known. Concurrent callers share one
        opening: nobody sees a room whose epoch and sequence are not loaded yet."""
        room = self.rooms.get(room_id)
        if room is not None:
            return room
        opening = self._opening.get(room_id)
        if opening is None:
            opening = self._opening[room_id] = asyncio.ensure_future(self._open(room_id))
            opening.add_done_callback(lambda _: self._opening.pop(room_id, None))
        return await asyncio.shield(opening)

    async def _open(self, room_id: int) -> Room:
        room = Room(room_id)
        if self.load_counts is not None:
            room.likes, room.peak = await self.load_counts(room_id)
            await self.counters.seed(room_id, likes=room.likes, peak=room.peak)
        await self.broker.subscribe(room_id)
        room.epoch, room.last_seq = await self.broker.position(room_id)
        self.rooms[room_id] = room
        return room

    async def join(
        self, room_id: int, peer: Peer, *, last_seq: int | None, epoch: str | None
    ) -> tuple[Room, Resume]:
        room = await self.open_room(room_id)
        return room, self.attach(room, peer, last_seq=last_seq, epoch=epoch)

    def attach(self, room: Room, peer: Peer, *, last_seq: int | None, epoch: str | None) -> Resume:
        """Add a peer to an open room; what it missed since `last_seq`, if that can be told."""
        room.peers.add(peer)
        room.empty_since = None
        if last_seq is None:
            return Resume(frames=[])
        if epoch != room.epoch or last_seq > room.last_seq:
            return Resume(frames=None)
        if last_seq == room.last_seq:
            return Resume(frames=[])
        if not room.ring or room.ring[0][0] > last_seq + 1:
            return Resume(frames=None)
        return Resume(frames=[frame for seq, frame in room.ring if seq > last_seq])

    def leave(self, room_id: int, peer: Peer) -> None:
        room = self.rooms.get(room_id)
        if room is not None:
            room.peers.discard(peer)
            room.writers.pop(peer, None)
            if not room.peers:
                room.empty_since = asyncio.get_running_loop().time()

    def add_likes(self, room_id: int, count: int) -> None:
        room = self.rooms.get(room_id)
        if room is not None:
            room.likes_pending += count

    def set_stock(self, room_id: int, key: str, left: int) -> None:
        room = self.rooms.get(room_id)
        if room is not None:
            room.stock[key] = left

    # --- ticks ------------------------------------------------------------------------------

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self.tick_period)
            await self._wait_for_quiet()
            self._tick_busy = 0.0
            for room in list(self.rooms.values()):
                try:
                    await self.tick(room)
                except Exception:
                    log.exception("room %s: tick failed", room.room_id)
            self._waiting_since = None
            # Coalesce harder when ticks are expensive: writing a tick to every viewer may take
            # at most TICK_SHARE of the loop (10,000 viewers: about one tick a second), so a
            # flash sale's burst of stock changes does not eat the time its buyers need.
            self.tick_period = max(1 / TICKS_PER_SEC, self._tick_busy / TICK_SHARE)
            if self.tick_period > 1 / TICKS_PER_SEC:
                log.debug("ticks every %.2f s", self.tick_period)

    async def _wait_for_quiet(self) -> None:
        """Returns once `ticks_wait` says no, or it has said yes for MAX_TICK_WAIT_SECS (then
        one tick goes out, and the next may wait again)."""
        loop = asyncio.get_running_loop()
        while self.ticks_wait():
            now = loop.time()
            if self._waiting_since is None:
                self._waiting_since = now
            elif now - self._waiting_since >= MAX_TICK_WAIT_SECS:
                return
            await asyncio.sleep(TICK_RECHECK_SECS)

    async def tick(self, room: Room) -> None:
        likes_here, room.likes_pending = room.likes_pending, 0
        room.online, room.peak, room.likes = await self.counters.report(
            room.room_id, online_here=len(room.peers), likes_here=likes_here
        )
        payload = orjson.dumps(
            {
                "type": "tick",
                "online": room.online,
                "peak": room.peak,
                "likes": room.likes,
                "stock": room.stock,
            }
        )
        now = asyncio.get_running_loop().time()
        started = time.perf_counter()
        changed = payload != room.last_tick
        room.last_tick = payload
        frame = text_frame(payload)
        yielded = False
        for n, peer in enumerate(list(room.peers), 1):
            if n % TICK_WRITES_PER_TURN == 0:
                self._tick_busy += time.perf_counter() - started
                await asyncio.sleep(0)  # let the loop turn: winners' commits may be waiting
                await self._wait_for_quiet()  # a sale opened meanwhile: the rest waits
                started, yielded = time.perf_counter(), True
            if yielded and peer not in room.peers:
                continue  # left while the loop turned
            if peer.lagging_since is not None:
                if peer.buffered() <= LOW_WATER_BYTES:
                    peer.lagging_since = None
                    peer.write(LAG_RESYNC_FRAME)  # it asks for a snapshot, then is ready again
                elif now - peer.lagging_since > LAG_CLOSE_SECS:
                    peer.close(4008, "too slow")
            elif peer.buffered() > HIGH_WATER_BYTES:
                peer.lagging_since = now
                room.writers.pop(peer, None)
            elif changed:
                peer.write(frame)
        self._tick_busy += time.perf_counter() - started
        if room.empty_since is not None and now - room.empty_since > EMPTY_ROOM_KEEP_SECS:
            # Empty for a while (reconnects are common right after a drop): let it go.
            del self.rooms[room.room_id]
            await self.broker.unsubscribe(room.room_id)


def _never() -> bool:
    return False


def make_hub(redis_url: str = "") -> Hub:
    """The in-process broker by default; Redis pub/sub when a Redis URL is configured."""
    if redis_url:
        return Hub(lambda deliver: RedisBroker(redis_url, deliver), RedisCounters(redis_url))
    return Hub(MemoryBroker, MemoryCounters())
