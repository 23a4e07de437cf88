"""One room connection (picows): limits, heartbeats, and the write path the hub uses.

The hub writes pre-built frames straight to the socket's transport, so a broadcast costs one
`write` per viewer and no per-viewer encoding. Until the joining client has its snapshot, events
for it are held (a few at most) so that it never sees an event before the state it applies to.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol, cast

import orjson
from picows import WSFrame, WSListener, WSMsgType, WSTransport

from livecart.realtime.frames import text_frame

log = logging.getLogger(__name__)

HELLO_TIMEOUT_SECS = 30.0  # generous: under a join storm our own loop may be behind
MAX_HELD_FRAMES = 256
RATE_PER_SEC = 8.0  # a viewer's sustained messages per second
RATE_BURST = 20.0
STAFF_RATE_PER_SEC = 60.0  # hosts and moderators drive the console: more room
STAFF_RATE_BURST = 120.0
FLOOD_STRIKES = 40  # messages refused for rate before the connection is closed
CLOSE_HELLO_TIMEOUT = 4001
CLOSE_FLOODING = 4029
CLOSE_NOT_FOUND = 4004
CLOSE_DEAD = 4000
IDLE_PING_SECS = 20.0
PONG_WAIT_SECS = 10.0


class TokenBucket:
    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, rate: float, capacity: float) -> None:
        self.rate, self.capacity, self.tokens = rate, capacity, capacity
        self.stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class ConnectionHandler(Protocol):
    def on_message(self, conn: RoomConnection, raw: bytes) -> None: ...
    def on_close(self, conn: RoomConnection) -> None: ...


class RoomConnection(WSListener):
    """A viewer's (or host's) connection to one room. Slots, not a dict: there are many."""

    __slots__ = (
        "_hello_timer",
        "bucket",
        "greeted",
        "handler",
        "held",
        "lagging_since",
        "last_seen",
        "pinged_at",
        "queue",
        "show_id",
        "strikes",
        "transport",
        "user_id",
        "worker",
    )

    def __init__(
        self,
        show_id: int,
        handler: ConnectionHandler,
    ) -> None:
        super().__init__()
        self.show_id = show_id
        self.transport: WSTransport | None = None
        self.lagging_since: float | None = None
        self.user_id: int | None = None
        self.greeted = False
        self.held: list[bytes] | None = []
        self.strikes = 0
        self.bucket = TokenBucket(RATE_PER_SEC, RATE_BURST)
        self.queue: deque[Any] | None = None
        self.worker: asyncio.Task[None] | None = None
        self.handler = handler
        self._hello_timer: asyncio.TimerHandle | None = None
        self.last_seen = time.monotonic()
        self.pinged_at: float | None = None

    # --- picows callbacks -------------------------------------------------------------------

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        self._hello_timer = asyncio.get_running_loop().call_later(
            HELLO_TIMEOUT_SECS, self._hello_timed_out
        )

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        self.last_seen = time.monotonic()
        self.pinged_at = None
        if frame.msg_type == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code())
            transport.disconnect()
            return
        if frame.msg_type != WSMsgType.TEXT:
            if frame.msg_type == WSMsgType.BINARY:
                self.send_error("text_only", "Send JSON text frames.")
            return
        if not self.bucket.take():
            self.strikes += 1
            if self.strikes >= FLOOD_STRIKES:
                self.close(CLOSE_FLOODING, "flooding")
            elif self.strikes == 1 or self.strikes % 10 == 0:
                self.send_error("rate_limited", "Slow down.")
            return
        self.handler.on_message(self, frame.get_payload_as_bytes())

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if self._hello_timer is not None:
            self._hello_timer.cancel()
        if self.worker is not None:
            self.worker.cancel()
        self.handler.on_close(self)

    def _hello_timed_out(self) -> None:
        if not self.greeted:
            self.close(CLOSE_HELLO_TIMEOUT, "say hello first")

    # --- the hub's Peer protocol ------------------------------------------------------------

    def write(self, frame: bytes) -> None:
        if self.held is not None:  # not ready: keep it for after the snapshot
            if len(self.held) < MAX_HELD_FRAMES:
                self.held.append(frame)
            return
        if self.transport is not None:
            self.transport.underlying_transport.write(frame)

    def raw_writer(self) -> Callable[[bytes], object]:
        assert self.transport is not None
        write: Callable[[bytes], object] = self.transport.underlying_transport.write
        return write

    def buffered(self) -> int:
        if self.transport is None:
            return 0
        return int(self.transport.underlying_transport.get_write_buffer_size())

    def close(self, code: int, reason: str) -> None:
        if self.transport is not None and not self.transport.is_disconnected:
            self.transport.send_close(cast(Any, code), reason.encode())
            self.transport.disconnect()

    # --- replies ----------------------------------------------------------------------------

    def send_direct(self, message: dict[str, Any]) -> None:
        """A reply to this client only; bypasses the hold used for broadcast events."""
        self.write_now(text_frame(orjson.dumps(message)))

    def write_now(self, frame: bytes) -> None:
        if self.transport is not None and not self.transport.is_disconnected:
            self.transport.underlying_transport.write(frame)

    def send_error(
        self, code: str, message: str, *, data: dict[str, Any] | None = None, ref: str | None = None
    ) -> None:
        self.send_direct(
            {"type": "error", "code": code, "message": message, "data": data or {}, "ref": ref}
        )

    def release(self, after_seq: int, *, before: list[bytes] | None = None) -> None:
        """The snapshot is out (or, on a resume, the missed events in `before` go first): send
        the held events that come after it."""
        held, self.held = self.held or [], None
        for frame in before or []:
            self.write(frame)
        for frame in held:
            seq = _frame_seq(frame)
            if seq is not None and seq > after_seq:
                self.write(frame)

    def greet(self, user_id: int | None) -> None:
        self.greeted = True
        self.user_id = user_id
        if self._hello_timer is not None:
            self._hello_timer.cancel()
            self._hello_timer = None

    def check_alive(self, now: float) -> None:
        """Heartbeat, called by the gateway's sweep: ping a connection that has been quiet for
        IDLE_PING_SECS; close one that has not answered within PONG_WAIT_SECS."""
        if self.transport is None or self.transport.is_disconnected:
            return
        if self.pinged_at is not None:
            if now - self.pinged_at > PONG_WAIT_SECS:
                self.close(CLOSE_DEAD, "no answer to ping")
        elif now - self.last_seen > IDLE_PING_SECS:
            self.pinged_at = now
            self.transport.send_ping()

    def trust_as_staff(self) -> None:
        self.bucket = TokenBucket(STAFF_RATE_PER_SEC, STAFF_RATE_BURST)

    def hold(self) -> None:
        """Hold broadcast events while a new snapshot is built (a resync)."""
        self.held = []


def _frame_seq(frame: bytes) -> int | None:
    """The seq of a held event frame (`{"seq":N,...` after the frame header); None for
    unsequenced frames (ticks), which the fresh snapshot makes stale anyway."""
    start = frame.find(b'{"seq":', 0, 16)
    if start < 0:
        return None
    start += 7
    end = start
    while frame[end : end + 1].isdigit():
        end += 1
    return int(frame[start:end])
