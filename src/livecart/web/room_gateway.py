"""The room gateway: accepts room connections and turns their messages into room operations.

Runs in the same event loop as the HTTP app, on its own port (picows; see docs/adr/0002).
Pings are answered at once, without touching the database, so clock sync measures the network
and not our work. Everything else goes through a per-connection queue, in order, each message in
its own unit of work.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import re
import time
from collections import deque
from functools import partial
from typing import Any

import orjson
from picows import (
    WSUpgradeRequest,
    WSUpgradeResponse,
    WSUpgradeResponseWithListener,
    ws_create_server,
)
from pydantic import ValidationError

from livecart.db.uow import SessionFactory, UnitOfWork
from livecart.errors import AppError
from livecart.features.accounts import service as accounts_service
from livecart.features.accounts.repository import AccountsRepository
from livecart.features.rooms import service as rooms
from livecart.features.rooms.repository import RoomsRepository
from livecart.features.rooms.snapshot import build_snapshot
from livecart.features.sales.gate import Purchase, SaleGate
from livecart.realtime import events as ev
from livecart.realtime.frames import text_frame
from livecart.realtime.hub import Hub, Room
from livecart.web.room_socket import RoomConnection

log = logging.getLogger(__name__)

ROOM_PATH = re.compile(rb"^/rooms/([1-9][0-9]{0,15})/?(\?.*)?$")
MAX_FRAME_BYTES = 4096
QUEUE_LIMIT = 32
BUY_CHUNK = 256  # buy attempts decided per turn of the event loop
HOLD_AT = 1024  # first_come attempts that may win, read, unanswered: read no more until...
RESUME_AT = 0  # ...all of them are answered
MAX_HOLD_SECS = 0.5
FREEZE_GC_VIEWERS = 1000  # a sale in a room this big: no full garbage collection until after it
GC_THAW_SECS = 60.0  # after the opening
SNAPSHOT_TTL_SECS = 1.0
SWEEP_SECS = 5.0
# When a big show starts, thousands connect within a second: asyncio's default of 100 pending
# connections would drop SYNs and make clients wait seconds for the retry.
ACCEPT_BACKLOG = 4096


class RoomGateway:
    def __init__(
        self,
        hub: Hub,
        session_factory: SessionFactory,
        *,
        fast_transport: bool = False,
        sale_gate: SaleGate | None = None,
    ) -> None:
        self.fast_transport = fast_transport
        self.sale_gate = sale_gate
        self._buying: set[asyncio.Task[None]] = set()
        self._buys: deque[tuple[RoomConnection, ev.Buy]] = deque()
        self._draining_buys = False
        self._unanswered = 0
        self._held: list[RoomConnection] | None = None
        self._hold_timer: asyncio.TimerHandle | None = None
        self.hub = hub
        self.session_factory = session_factory
        self.server: asyncio.base_events.Server | None = None
        self.connections: set[RoomConnection] = set()
        self._snapshots: dict[int, tuple[int, float, bytes]] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._saved_counts: dict[int, tuple[int, int]] = {}
        hub.load_counts = self._load_counts
        hub.ticks_wait = self._sale_busy
        hub.observers.append(self._prime_offered_sale)
        self._priming: set[asyncio.Task[None]] = set()
        self._thaw: asyncio.TimerHandle | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def start(self, host: str, port: int) -> None:
        self.server = await ws_create_server(
            self._accept,
            host,
            port,
            max_frame_size=MAX_FRAME_BYTES,
            read_buffer_init_size=1024,
            enable_auto_ping=False,  # one sweep for all (below), not a task per connection
            websocket_handshake_timeout=5,
            backlog=ACCEPT_BACKLOG,
            # picows' aiofastnet transport writes a little faster but holds about 25 KB more per
            # connection (docs/benchmarks.md); uvloop's own transport unless asked.
            use_aiofastnet=self.fast_transport,
        )
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())

    async def _sweep_forever(self) -> None:
        """Heartbeats for every connection from one task: a per-connection ping timer would
        cost each idle viewer a few kilobytes."""
        while True:
            await asyncio.sleep(SWEEP_SECS)
            now = time.monotonic()
            for conn in list(self.connections):
                conn.check_alive(now)
            try:
                await self._save_counts()
            except Exception:
                log.exception("saving room counters failed; will retry")

    def _prime_offered_sale(self, show_id: int, event: bytes) -> None:
        """A drop with a flash sale, opened in any process: this process loads the sale's terms
        and readies its gate (a Redis connection) before the opening, so that its first
        attempts are decided in the frame handler like the rest."""
        if self.sale_gate is None or b'"drop_opened"' not in event or b'"sale_id"' not in event:
            return
        drop = orjson.loads(event)
        sale = drop.get("sale") or {}
        room = self.hub.rooms.get(show_id)
        if room is not None and len(room.peers) >= FREEZE_GC_VIEWERS:
            self._freeze_gc_until(drop.get("opens_at", 0) / 1000 + GC_THAW_SECS)
        if isinstance(sale.get("sale_id"), int):
            task = asyncio.get_running_loop().create_task(self.sale_gate.prime(sale["sale_id"]))
            self._priming.add(task)
            task.add_done_callback(self._priming.discard)

    def _freeze_gc_until(self, thaw_at: float) -> None:
        """A big room's sale is about to open. The objects alive now (every connection of the
        room) are moved out of the garbage collector's reach until `thaw_at`: a full collection
        over them took 0.3 s at 10,000 viewers and, started by the burst's allocations, it
        stalled the opening. Nothing is lost: they are collectable again after the thaw."""
        gc.freeze()
        delay = max(1.0, thaw_at - time.time())
        if self._thaw is not None:
            self._thaw.cancel()
        self._thaw = asyncio.get_running_loop().call_later(delay, self._unfreeze_gc)

    def _unfreeze_gc(self) -> None:
        self._thaw = None
        gc.unfreeze()

    async def _load_counts(self, show_id: int) -> tuple[int, int]:
        async with UnitOfWork(self.session_factory) as uow:
            counts = await RoomsRepository(uow.session).saved_counts(show_id)
        self._saved_counts[show_id] = counts
        return counts

    async def _save_counts(self) -> None:
        """Likes and the peak audience outlive the process: saved when they changed."""
        changed = {
            room_id: (room.likes, room.peak)
            for room_id, room in self.hub.rooms.items()
            if self._saved_counts.get(room_id) != (room.likes, room.peak)
        }
        if not changed:
            return
        async with UnitOfWork(self.session_factory) as uow:
            repo = RoomsRepository(uow.session)
            for show_id, (likes, peak) in changed.items():
                await repo.save_counts(show_id, likes=likes, peak=peak)
        self._saved_counts.update(changed)

    async def close(self) -> None:
        if self._thaw is not None:
            self._thaw.cancel()
            self._unfreeze_gc()
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._hold_timer is not None:
            self._hold_timer.cancel()
        if self.server is not None:
            self.server.close()
        for conn in list(self.connections):
            conn.close(1001, "server shutting down")
        if self.server is not None:
            await self.server.wait_closed()

    def _accept(self, request: WSUpgradeRequest) -> Any:
        match = ROOM_PATH.match(request.path)
        if match is None:
            return WSUpgradeResponseWithListener(
                WSUpgradeResponse.create_error_response(404, b"no such room"), None
            )
        conn = RoomConnection(int(match.group(1)), self)
        self.connections.add(conn)
        return conn

    def on_close(self, conn: RoomConnection) -> None:
        self.connections.discard(conn)
        self.hub.leave(conn.show_id, conn)

    # --- messages ---------------------------------------------------------------------------

    def on_message(self, conn: RoomConnection, raw: bytes) -> None:
        try:
            message = ev.parse_client_message(raw)
        except ValidationError as exc:
            conn.send_error(*_explain_invalid(exc))
            return
        if isinstance(message, ev.Ping):
            conn.send_direct({"type": "pong", "t0": message.t0, "server_time": time.time() * 1000})
            return
        if not conn.greeted and not isinstance(message, ev.Hello):
            conn.send_error("hello_first", "Send hello first.", ref=message.type)
            return
        if isinstance(message, ev.Hello) and self._greet_from_cache(conn, message):
            return
        if isinstance(message, ev.Buy):
            self._queue_buy(conn, message)
            return
        if isinstance(message, ev.Like):
            if conn.user_id is None:
                conn.send_error("login_required", "Log in to like.", ref="like")
            else:
                self.hub.add_likes(conn.show_id, message.count)
            return
        # The queue and its worker exist only while messages wait: an idle viewer costs neither.
        if conn.queue is None:
            conn.queue = deque()
        if len(conn.queue) >= QUEUE_LIMIT:
            conn.send_error("busy", "Too many messages waiting; slow down.", ref=message.type)
            return
        conn.queue.append(message)
        if conn.worker is None:
            conn.worker = asyncio.get_running_loop().create_task(self._work(conn))

    def _queue_buy(self, conn: RoomConnection, buy: ev.Buy) -> None:
        """Buys wait in one queue that is worked BUY_CHUNK at a time, a loop turn apart. At a
        sale's opening uvloop reads every ready socket before it runs anything else; deciding
        each attempt as it is read would keep the winners' Redis reply and commit round trips
        (one loop turn each) waiting until the whole burst was decided. Queued, the burst is
        only read in that phase, and the winners' turns come between chunks."""
        self._buys.append((conn, buy))
        self._unanswered += 1
        if (
            self._unanswered >= HOLD_AT
            and self._held is None
            and self.sale_gate is not None
            and self.sale_gate.first_come_hurry(buy.sale_id, conn.user_id)
        ):
            self._hold_reads()
        if not self._draining_buys:
            self._draining_buys = True
            asyncio.get_running_loop().call_soon(self._drain_buys)

    def _reply_buy(self, conn: RoomConnection, message: dict[str, Any]) -> None:
        """Every attempt queued is answered here once (or counted off when cancelled)."""
        conn.send_direct(message)
        self._unanswered -= 1
        if self._held is not None and self._unanswered <= RESUME_AT:
            self._resume_reads()

    def _sale_busy(self) -> bool:
        """A flash sale's winners are being decided or written here (reads held, or the gate
        busy): the room's ticks wait."""
        return self._held is not None or (self.sale_gate is not None and self.sale_gate.busy())

    def _hold_reads(self) -> None:
        """HOLD_AT attempts that may still win are waiting: read nothing more until they are
        answered. Otherwise the rest of the burst (losers, almost all of it) is read first, and
        the winners' Redis reply and commit wait behind it (uvloop runs no callback while
        sockets are ready to read). Held at most MAX_HOLD_SECS."""
        held = self._held = []
        for conn in self.connections:
            if conn.transport is not None and not conn.transport.is_disconnected:
                conn.transport.underlying_transport.pause_reading()
                held.append(conn)
        self._hold_timer = asyncio.get_running_loop().call_later(MAX_HOLD_SECS, self._resume_reads)

    def _resume_reads(self) -> None:
        held, self._held = self._held or [], None
        if self._hold_timer is not None:
            self._hold_timer.cancel()
            self._hold_timer = None
        for conn in held:
            if conn.transport is not None and not conn.transport.is_disconnected:
                conn.transport.underlying_transport.resume_reading()

    def _drain_buys(self) -> None:
        buys = self._buys
        for _ in range(min(BUY_CHUNK, len(buys))):
            conn, buy = buys.popleft()
            try:
                self._buy(conn, buy)
            except Exception:
                log.exception("room %s: buy failed", conn.show_id)
                self._reply_buy(conn, _buy_refused(buy, "internal_error", "Something went wrong."))
        if self.sale_gate is not None:
            self.sale_gate.start_writes()  # this chunk's winners (embedded: decided here)
        if buys:
            asyncio.get_running_loop().call_soon(self._drain_buys)
        else:
            self._draining_buys = False

    def _buy(self, conn: RoomConnection, buy: ev.Buy) -> None:
        """A purchase attempt over the open connection: no queue, no session of its own — the
        gate answers most attempts from memory. The answer is `buy_result` with the key."""
        if conn.user_id is None or self.sale_gate is None:
            self._reply_buy(
                conn,
                _buy_refused(buy, "login_required", "Log in to buy.")
                if conn.user_id is None
                else _buy_refused(buy, "sales_unavailable", "Sales are not served here."),
            )
            return
        taken = self.sale_gate.buy_soon(
            conn.user_id,
            buy.sale_id,
            buy.key,
            quantity=buy.quantity,
            show_id=conn.show_id,
            answer=partial(self._bought, conn, buy),
        )
        if not taken:  # the gate needs a task and awaits: a sale not cached yet, a repeat…
            task = asyncio.get_running_loop().create_task(
                self._buy_through_gate(conn, conn.user_id, buy, self.sale_gate)
            )
            self._buying.add(task)
            task.add_done_callback(self._buying.discard)

    def _bought(self, conn: RoomConnection, buy: ev.Buy, bought: Purchase | BaseException) -> None:
        """The attempt's answer, from the gate: `buy_result`."""
        if isinstance(bought, AppError):
            self._reply_buy(conn, _buy_refused(buy, bought.code, bought.message, bought.data))
            return
        if isinstance(bought, BaseException):
            log.error("room %s: buy failed", conn.show_id, exc_info=bought)
            self._reply_buy(conn, _buy_refused(buy, "internal_error", "Something went wrong."))
            return
        if bought.created:
            self.hub.set_stock(bought.show_id, f"sale:{buy.sale_id}", bought.left)
        self._reply_buy(
            conn,
            {
                "type": "buy_result",
                "key": buy.key,
                "ok": True,
                "repeat": not bought.created,
                "claim": bought.claim_json(),
            },
        )

    async def _buy_through_gate(
        self, conn: RoomConnection, user_id: int, buy: ev.Buy, gate: SaleGate
    ) -> None:
        try:
            bought = await gate.purchase(
                user_id, buy.sale_id, quantity=buy.quantity, key=buy.key, show_id=conn.show_id
            )
        except asyncio.CancelledError:
            self._unanswered -= 1
            raise
        except Exception as exc:
            self._bought(conn, buy, exc)
            return
        self._bought(conn, buy, bought)

    async def _work(self, conn: RoomConnection) -> None:
        try:
            while conn.queue:
                await self._handle_one(conn, conn.queue.popleft())
        finally:
            conn.queue = None
            conn.worker = None

    async def _handle_one(self, conn: RoomConnection, message: Any) -> None:
        try:
            await self._handle(conn, message)
        except AppError as exc:
            conn.send_error(exc.code, exc.message, data=exc.data, ref=message.type)
        except Exception:
            log.exception("room %s: %s failed", conn.show_id, message.type)
            conn.send_error("internal_error", "Something went wrong on our side.", ref=message.type)

    async def _handle(self, conn: RoomConnection, message: Any) -> None:
        if isinstance(message, ev.Hello):
            await self._hello(conn, message)
            return
        async with UnitOfWork(self.session_factory) as uow:
            ctx = rooms.RoomContext(uow, self.hub)
            user = await ctx.accounts.user(conn.user_id) if conn.user_id else None
            m = await rooms.member(ctx, conn.show_id, user)
            reply = await dispatch(ctx, m, message)
            if isinstance(message, ev.ResyncRequest):
                await self._send_snapshot(ctx, conn, m)
        if reply is not None:
            conn.send_direct(reply)

    async def _hello(self, conn: RoomConnection, hello: ev.Hello) -> None:
        """Three steps, each with at most one database connection, never two at once: opening a
        room reads its saved counters, and a join storm holding one connection per hello while
        waiting for that would exhaust the pool."""
        if conn.greeted:
            raise AppError("already_greeted", "Hello was already said on this connection.")
        async with UnitOfWork(self.session_factory) as uow:
            ctx = rooms.RoomContext(uow, self.hub)
            user = None
            if hello.token:
                user = await accounts_service.user_for_token(
                    AccountsRepository(uow.session), hello.token
                )
                if user is None:
                    raise AppError(
                        "invalid_token", "The token is invalid or has expired.", status=401
                    )
            try:
                m = await rooms.member(ctx, conn.show_id, user)
            except AppError:
                conn.send_error("show_not_found", "No such show.", ref="hello")
                conn.close(4004, "no such show")
                return
        conn.greet(user.id if user else None)
        if m.role in rooms.STAFF:
            conn.trust_as_staff()
        room = await self.hub.open_room(conn.show_id)
        if not self._resume(conn, room, hello):
            async with UnitOfWork(self.session_factory) as uow:
                await self._send_snapshot(rooms.RoomContext(uow, self.hub), conn, m)

    def _greet_from_cache(self, conn: RoomConnection, hello: ev.Hello) -> bool:
        """An anonymous viewer joining an open room with a fresh snapshot is let in at once,
        without a task, a session or a query: this keeps a big show's first minute (thousands of
        joins a second) cheap in time and memory."""
        room = self.hub.rooms.get(conn.show_id)
        frame = self._cached_snapshot(conn.show_id)
        if hello.token or conn.greeted or conn.queue is not None or room is None or frame is None:
            return False
        conn.greet(None)
        if not self._resume(conn, room, hello):
            conn.write_now(frame)
            conn.release(room.last_seq)
            self.hub.ready(conn.show_id, conn)
        return True

    def _resume(self, conn: RoomConnection, room: Room, hello: ev.Hello) -> bool:
        """Attach the connection; if it can resume where it left off, send what it missed."""
        resume = self.hub.attach(room, conn, last_seq=hello.last_seq, epoch=hello.epoch)
        if resume.frames is None or hello.last_seq is None:
            return False
        conn.send_direct(
            {
                "type": "welcome",
                "resumed": True,
                "epoch": room.epoch,
                "seq": hello.last_seq,  # the missed events follow from seq + 1
                "missed": len(resume.frames),
            }
        )
        conn.release(room.last_seq, before=resume.frames)
        self.hub.ready(conn.show_id, conn)
        return True

    async def _send_snapshot(
        self, ctx: rooms.RoomContext, conn: RoomConnection, m: rooms.Member
    ) -> None:
        """Send the room as it is now; events that arrive meanwhile are held, then follow it."""
        room = await self.hub.open_room(conn.show_id)
        self.hub.unready(conn.show_id, conn)
        conn.hold()
        seq = room.last_seq  # read first: every event up to here is in what we read next
        anonymous = m.user is None
        frame = self._cached_snapshot(conn.show_id) if anonymous else None
        if frame is None:
            snapshot = await build_snapshot(ctx, m.show, m.user, m.role, epoch=room.epoch, seq=seq)
            frame = text_frame(orjson.dumps(snapshot))
            if anonymous:
                self._snapshots[conn.show_id] = (seq, time.monotonic(), frame)
        conn.write_now(frame)
        conn.release(seq)
        self.hub.ready(conn.show_id, conn)

    def _cached_snapshot(self, show_id: int) -> bytes | None:
        """The anonymous snapshot of a room if nothing has happened since it was built and it is
        younger than SNAPSHOT_TTL_SECS (counters in it may lag; ticks correct them)."""
        cached = self._snapshots.get(show_id)
        room = self.hub.rooms.get(show_id)
        if cached is None or room is None:
            return None
        seq, built, frame = cached
        if seq != room.last_seq or time.monotonic() - built > SNAPSHOT_TTL_SECS:
            return None
        return frame


async def dispatch(ctx: rooms.RoomContext, m: rooms.Member, message: Any) -> dict[str, Any] | None:
    """Run one room message; the return value, if any, goes to the sender only."""
    match message:
        case ev.Chat(text=text, question=question):
            line, hidden = await rooms.post_chat(ctx, m, text, question=question)
            # A shadow-banned author sees their own line as if it had been posted.
            return {"type": "chat_posted", "message": line.model_dump()} if hidden else None
        case ev.DeleteChat(message_id=message_id):
            await rooms.delete_chat(ctx, m, message_id)
        case ev.Restrict(user_id=user_id, kind=kind, minutes=minutes):
            await rooms.restrict(ctx, m, user_id, kind, minutes)
        case ev.SlowMode(seconds=seconds):
            await rooms.set_slow_mode(ctx, m, seconds)
        case ev.QuestionAction(message_id=message_id, action=action, answer=answer):
            await rooms.act_on_question(ctx, m, message_id, action, answer)
        case ev.Explain(product_id=product_id):
            await rooms.explain(ctx, m, product_id)
        case ev.Pin(product_id=product_id):
            await rooms.pin(ctx, m, product_id)
        case ev.Drop(product_id=product_id, countdown_ms=countdown_ms):
            await rooms.drop(ctx, m, product_id, countdown_ms)
        case ev.ShowControl(type=action):
            await rooms.control_show(ctx, m, action)
        case ev.Follow(on=on):
            followers = await rooms.follow_host(ctx, m, on=on)
            return {
                "type": "notice",
                "code": "followed" if on else "unfollowed",
                "followers": followers,
            }
        case ev.ResyncRequest():
            return None
    return None


def _buy_refused(
    buy: ev.Buy, code: str, message: str, data: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "type": "buy_result",
        "key": buy.key,
        "ok": False,
        "code": code,
        "message": message,
        "data": data or {},
    }


def _explain_invalid(exc: ValidationError) -> tuple[str, str]:
    errors = exc.errors()
    kinds = {e["type"] for e in errors}
    if "json_invalid" in kinds:
        return "invalid_json", "The message is not valid JSON."
    if "union_tag_invalid" in kinds or "union_tag_not_found" in kinds:
        return "unknown_message_type", "Unknown message type."
    first = errors[0]
    where = ".".join(str(p) for p in first["loc"][1:]) or "message"
    return "invalid_message", f"{where}: {first['msg']}"
