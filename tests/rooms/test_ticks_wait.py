"""The room's counter ticks wait while a flash sale's winners are being decided and written
(`Hub.ticks_wait`), at most MAX_TICK_WAIT_SECS at a time, also when one is half written."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import orjson
import pytest

from livecart.realtime import hub as hub_module
from livecart.realtime.broker import MemoryBroker
from livecart.realtime.counters import MemoryCounters
from livecart.realtime.hub import Hub

ROOM = 7


class Viewer:
    """A connection as the hub sees it: it keeps what it was sent."""

    def __init__(self) -> None:
        self.lagging_since: float | None = None
        self.frames: list[bytes] = []
        self.closed: int | None = None

    def write(self, frame: bytes) -> None:
        self.frames.append(frame)

    def raw_writer(self) -> Callable[[bytes], object]:
        return self.write

    def buffered(self) -> int:
        return 0

    def close(self, code: int, reason: str) -> None:
        self.closed = code

    def ticks(self) -> list[dict[str, object]]:
        # A text frame of < 126 bytes: two header bytes, then the JSON.
        return [orjson.loads(f[2:]) for f in self.frames if b'"tick"' in f]


async def room_with(viewers: int) -> tuple[Hub, list[Viewer]]:
    hub = Hub(MemoryBroker, MemoryCounters())
    await hub.broker.start()
    room = await hub.open_room(ROOM)
    peers = [Viewer() for _ in range(viewers)]
    for peer in peers:
        hub.attach(room, peer, last_seq=None, epoch=None)
    return hub, peers


async def eventually(check: Callable[[], bool], secs: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + secs
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "did not happen in time"
        await asyncio.sleep(0.005)


async def test_ticks_wait_while_the_sale_is_busy_then_go_out() -> None:
    hub, (viewer,) = await room_with(1)
    busy = True
    hub.ticks_wait = lambda: busy
    hub.set_stock(ROOM, "sale:1", 3)
    ticker = asyncio.create_task(hub._tick_forever())
    try:
        await asyncio.sleep(hub.tick_period * 3)
        assert viewer.ticks() == [], "a tick went out while winners were being written"
        busy = False
        await eventually(lambda: bool(viewer.ticks()))
        assert viewer.ticks()[0]["stock"] == {"sale:1": 3}
    finally:
        ticker.cancel()
        await hub.close()


async def test_a_tick_goes_out_after_the_longest_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub_module, "MAX_TICK_WAIT_SECS", 0.05)
    hub, (viewer,) = await room_with(1)
    hub.ticks_wait = lambda: True  # a sale that never stops being busy
    ticker = asyncio.create_task(hub._tick_forever())
    try:
        await eventually(lambda: bool(viewer.ticks()))
    finally:
        ticker.cancel()
        await hub.close()


async def test_a_half_written_tick_waits_for_the_sale(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub_module, "TICK_WRITES_PER_TURN", 2)
    hub, viewers = await room_with(6)
    room = hub.rooms[ROOM]
    done = False
    # The sale opens as soon as the first viewer has the tick, and is busy until `done`.
    hub.ticks_wait = lambda: not done and any(v.ticks() for v in viewers)

    tick = asyncio.create_task(hub.tick(room))
    await asyncio.sleep(0.05)
    told = sum(bool(v.ticks()) for v in viewers)
    assert 1 <= told < 6, "the rest of the tick should wait while the sale is busy"
    assert not tick.done()
    done = True
    await asyncio.wait_for(tick, 5)
    assert all(len(v.ticks()) == 1 for v in viewers)
    await hub.close()
