"""The flash-sale gate: every purchase attempt, over HTTP or the room connection, comes here.

1. The sale's fixed terms come from a per-process cache (one query per sale per process).
2. `arbiter.peek`: a loser after sold-out, or a repeat known locally, is answered without
   touching Redis or the database.
3. The time window and the quantity (pure rules; a repeat of a won request still gets its claim).
4. fair_window: during the window the request waits and is decided in lot order at its end.
5. `arbiter.reserve`: the repeat check, stock, the buyer's limit and the reservation, atomically.
6. A winner is written by `WinnerWriter` (group commit) and answered only after that commit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, NamedTuple

import orjson

from livecart.db.uow import SessionFactory, UnitOfWork, dialect_of
from livecart.errors import AppError, NotFound
from livecart.features.sales import rules
from livecart.features.sales.arbiter import (
    Arbiter,
    EmbeddedArbiter,
    Ledger,
    LedgerReader,
    Outcome,
    Reservation,
    SaleInfo,
)
from livecart.features.sales.models import FlashSale, SaleClaim
from livecart.features.sales.redis_arbiter import RedisArbiter
from livecart.features.sales.repository import SalesRepository
from livecart.features.sales.schemas import ClaimOut
from livecart.features.sales.shared_window import SharedFairWindow
from livecart.features.sales.window import FairWindow
from livecart.features.sales.writer import ClaimRefused, NewClaim, WinnerWriter
from livecart.kit.clock import as_utc, utcnow
from livecart.kit.money import Money, minor_to_amount

log = logging.getLogger(__name__)
REPEAT_WAIT_SECS = 3.0  # a repeat of a request whose first answer is still being written
# Winners come in runs: a sale counts as busy this long after its last attempt that could win.
BUSY_AFTER_SECS = 0.1


class WonClaim(NamedTuple):
    """A claim just written, as plain values: a winner at a sale's opening is answered from a
    crowded event loop, and building the API's model for it cost ~15 µs."""

    id: int
    sale_id: int
    quantity: int
    unit_price_minor: int
    currency: str
    expires_at: datetime


class Purchase:
    """A purchase's answer. `created` False: a repeat, answered with the first answer. The
    claim is `claim` (the API's model) or `claim_json()` (the same as JSON values, for the
    room's reply); a winner's is built only when asked for."""

    __slots__ = ("_claim", "_won", "created", "left", "show_id")

    def __init__(self, claim: ClaimOut | WonClaim, created: bool, left: int, show_id: int) -> None:
        self._claim = claim if isinstance(claim, ClaimOut) else None
        self._won = claim if isinstance(claim, WonClaim) else None
        self.created = created
        self.left = left
        self.show_id = show_id

    @property
    def claim(self) -> ClaimOut:
        if self._claim is None:
            assert self._won is not None
            w = self._won
            self._claim = ClaimOut(
                id=w.id,
                sale_id=w.sale_id,
                quantity=w.quantity,
                unit_price=minor_to_amount(w.unit_price_minor, w.currency),
                total=minor_to_amount(w.unit_price_minor * w.quantity, w.currency),
                currency=w.currency,
                status="awaiting_payment",
                expires_at=w.expires_at,
            )
        return self._claim

    def claim_json(self) -> dict[str, Any]:
        """`claim.model_dump(mode="json")`, without pydantic for a winner."""
        w = self._won
        if w is None or w.expires_at.tzinfo is not UTC:
            return self.claim.model_dump(mode="json")
        return {
            "id": w.id,
            "sale_id": w.sale_id,
            "quantity": w.quantity,
            "unit_price": str(minor_to_amount(w.unit_price_minor, w.currency)),
            "total": str(minor_to_amount(w.unit_price_minor * w.quantity, w.currency)),
            "currency": w.currency,
            "status": "awaiting_payment",
            # as pydantic writes it (UTC as Z); orjson formats it 5× faster than isoformat()
            "expires_at": orjson.dumps(w.expires_at, option=orjson.OPT_UTC_Z)[1:-1].decode(),
        }


def sale_info(sale: FlashSale) -> SaleInfo:
    return SaleInfo(
        id=sale.id,
        show_id=sale.show_id,
        allotted=sale.allotted,
        per_buyer_limit=sale.per_buyer_limit,
        opens_at=as_utc(sale.opens_at),
        closes_at=as_utc(sale.closes_at),
        price_minor=sale.price_minor,
        currency=sale.currency,
        payment_window_secs=sale.payment_window_secs,
        mode=sale.mode,
        window_ms=sale.window_ms,
    )


def claim_out(claim: SaleClaim, currency: str) -> ClaimOut:
    return ClaimOut(
        id=claim.id,
        sale_id=claim.sale_id,
        quantity=claim.quantity,
        unit_price=Money.from_minor(claim.unit_price_minor, currency).amount,
        total=Money.from_minor(claim.unit_price_minor * claim.quantity, currency).amount,
        currency=currency,
        status=claim.status,
        expires_at=claim.expires_at,
    )


# Told how an attempt taken by `SaleGate.buy_soon` ended: the Purchase, or the error (an
# AppError for an expected refusal).
Answer = Callable[["Purchase | BaseException"], None]


class SaleGate:
    def __init__(
        self,
        factory: SessionFactory,
        arbiter_for: Callable[[LedgerReader], Arbiter],
        *,
        secret: str,
    ) -> None:
        self.factory = factory
        self.arbiter = arbiter_for(self.read_ledger)
        # SQLite has one writer at a time; PostgreSQL commits two batches at once.
        self.writer = WinnerWriter(
            factory, concurrency=2 if dialect_of(factory) == "postgresql" else 1
        )
        self.arbiter.after_batch = self.writer.start_now
        self.secret = secret
        self._infos: dict[int, SaleInfo] = {}
        self._info_loads: dict[int, asyncio.Task[SaleInfo]] = {}
        self._windows: dict[int, FairWindow | SharedFairWindow] = {}
        self._repairs: dict[int, asyncio.Task[None]] = {}
        self._answering: set[asyncio.Task[Purchase]] = set()
        self._may_win_at = -BUSY_AFTER_SECS  # time.monotonic() of the last attempt that could win

    @property
    def backend(self) -> str:
        return self.arbiter.name

    async def info(self, sale_id: int) -> SaleInfo:
        """The sale's fixed terms; at the opening thousands ask at once, and one query serves
        them all."""
        info = self._infos.get(sale_id)
        if info is not None:
            return info
        loading = self._info_loads.get(sale_id)
        if loading is None:
            loading = asyncio.get_running_loop().create_task(self._load_info(sale_id))
            self._info_loads[sale_id] = loading
            loading.add_done_callback(lambda _: self._info_loads.pop(sale_id, None))
        return await asyncio.shield(loading)

    async def _load_info(self, sale_id: int) -> SaleInfo:
        async with UnitOfWork(self.factory) as uow:
            sale = await SalesRepository(uow.session).sale(sale_id)
        if sale is None:
            raise NotFound("sale", sale_id=sale_id)
        info = self._infos[sale_id] = sale_info(sale)
        return info

    async def read_ledger(self, sale_id: int) -> Ledger:
        async with UnitOfWork(self.factory) as uow:
            return await SalesRepository(uow.session).claimed(sale_id)

    def forget(self) -> None:
        """Drop every cache (tests: ids start again in an empty database)."""
        self._infos.clear()
        self._windows.clear()
        self.arbiter.forget()

    async def forget_sale(self, sale_id: int) -> None:
        self._infos.pop(sale_id, None)
        window = self._windows.pop(sale_id, None)
        if window is not None:
            window.cancel()
        await self.arbiter.drop(sale_id)

    async def close(self) -> None:
        for window in self._windows.values():
            window.cancel()
        await self.writer.close()
        await self.arbiter.close()

    # --- buying -------------------------------------------------------------------------------

    async def purchase(
        self,
        buyer_id: int,
        sale_id: int,
        *,
        quantity: int,
        key: str,
        now: datetime | None = None,
        show_id: int | None = None,
    ) -> Purchase:
        """`show_id`: the attempt comes from this show's room and must be for one of its sales."""
        sale = await self.info(sale_id)
        if show_id is not None and sale.show_id != show_id:
            raise NotFound("sale", sale_id=sale_id)
        quick = self.arbiter.peek(sale, buyer_id, key)
        if quick is not None:
            return await self._answer(sale, buyer_id, key, quantity, quick)
        self._may_win_at = time.monotonic()
        now = now or utcnow()
        try:
            rules.check_attempt(sale.terms, quantity=quantity, now=now)
        except rules.SaleRefusal as exc:
            earlier = await self.arbiter.lookup(sale, buyer_id, key)
            if earlier is not None:
                return await self._repeat(sale, buyer_id, key, quantity, earlier)
            raise AppError(exc.code, str(exc), status=exc.status) from exc
        if sale.mode == "fair_window" and now < sale.window_ends:
            decided = await self.window(sale).enter(buyer_id, key, quantity)
        else:
            decided = await self.arbiter.reserve(sale, buyer_id, key, quantity)
        return await self._answer(sale, buyer_id, key, quantity, decided, now=now)

    def buy_soon(
        self,
        buyer_id: int,
        sale_id: int,
        key: str,
        *,
        quantity: int,
        show_id: int,
        answer: Answer,
    ) -> bool:
        """`purchase` without a task or an await, for an attempt from this show's room: True
        when the gate takes it, and then calls `answer` once, with the Purchase or the error
        `purchase` would raise — at once for a refusal it can make from memory, else from the
        arbiter's batch or the writer's commit that settles it. False: nothing was done; use
        `purchase` (a sale not cached yet, a repeat, an attempt outside the open window, a
        fair window's attempt). At a big sale almost every attempt loses: this keeps a loss
        to a few microseconds, and a winner to the turns of the event loop its I/O needs."""
        sale = self._infos.get(sale_id)
        if sale is None or sale.show_id != show_id:
            return False
        quick = self.arbiter.peek(sale, buyer_id, key)
        if quick is not None:
            if quick.outcome is not Outcome.SOLD_OUT:
                return False
            answer(sold_out(quick.left))
            return True
        self._may_win_at = time.monotonic()
        now = utcnow()
        if sale.mode == "fair_window" and now < sale.window_ends:
            return False
        try:
            rules.check_attempt(sale.terms, quantity=quantity, now=now)
        except rules.SaleRefusal:
            return False  # a repeat of a winning request may still be answered: the slow path
        then = partial(self._decided, sale, buyer_id, key, quantity, answer)
        decided = self.arbiter.reserve_now(sale, buyer_id, key, quantity)
        if decided is None:
            return self.arbiter.reserve_soon(sale, buyer_id, key, quantity, then)
        if decided.outcome is Outcome.REPEAT:
            return False
        then(decided)
        return True

    def _decided(
        self,
        sale: SaleInfo,
        buyer_id: int,
        key: str,
        quantity: int,
        answer: Answer,
        decided: Reservation | BaseException,
    ) -> None:
        if isinstance(decided, BaseException):
            answer(decided)
        elif (refused := refusal(sale, decided)) is not None:
            answer(refused)
        elif decided.outcome is Outcome.REPEAT:
            self._later(self._repeat(sale, buyer_id, key, quantity, decided.quantity), answer)
        else:
            claim = new_claim(sale, buyer_id, key, quantity, utcnow())
            self.writer.submit(claim, partial(self._written, sale, claim, decided.left, answer))

    def _written(
        self,
        sale: SaleInfo,
        claim: NewClaim,
        left: int,
        answer: Answer,
        claim_id: int | None,
        exc: BaseException | None,
    ) -> None:
        if exc is None and claim_id is not None:
            answer(won(sale, claim, claim_id, left))
        else:
            self._later(self._unwritten(sale, claim, exc), answer)

    def _later(self, work: Coroutine[Any, Any, Purchase], answer: Answer) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._answering.add(task)
        task.add_done_callback(self._answering.discard)
        task.add_done_callback(partial(_answer_from, answer))

    def start_writes(self) -> None:
        """The attempts taken in this turn of the event loop are all decided: their winners
        are written now rather than after the loop's next turn."""
        self.writer.start_now()

    def busy(self) -> bool:
        """True while winners are being decided or written: an attempt that could win came
        within BUSY_AFTER_SECS, or the writer has winners. (The room's ticks wait meanwhile.)"""
        return self.writer.busy or time.monotonic() - self._may_win_at < BUSY_AFTER_SECS

    def first_come_hurry(self, sale_id: int, buyer_id: int | None) -> bool:
        """True for an attempt at a first_come sale this process knows while winners may be
        waiting for their answer: unless it already knows the attempt would be refused as sold
        out (without asking the store) and no winner is still being written. (The embedded
        arbiter knows it is sold out the moment it grants the last unit, before those winners
        are written.) A fair_window sale's attempts are never hurried: all of its window's
        are equal."""
        sale = self._infos.get(sale_id)
        if sale is None or buyer_id is None or sale.mode != "first_come":
            return False
        quick = self.arbiter.peek(sale, buyer_id, "")
        return quick is None or quick.outcome is not Outcome.SOLD_OUT or self.writer.busy

    async def prime(self, sale_id: int) -> None:
        """A new sale: its terms and counters are ready before the first attempt."""
        try:
            await self.arbiter.prime(await self.info(sale_id))
            await self.writer.warm()
        except Exception:
            log.exception("preparing sale %s failed; its first attempt will", sale_id)

    def window(self, sale: SaleInfo) -> FairWindow | SharedFairWindow:
        """The sale's fair window: in this process (embedded), or shared by every process
        through Redis (so the requests of all of them are drawn together)."""
        window = self._windows.get(sale.id)
        if window is None:
            if isinstance(self.arbiter, RedisArbiter):
                window = SharedFairWindow(self, sale, self.arbiter.redis)
            else:
                window = FairWindow(self, sale)
            self._windows[sale.id] = window
        return window

    async def _answer(
        self,
        sale: SaleInfo,
        buyer_id: int,
        key: str,
        quantity: int,
        decided: Reservation,
        *,
        now: datetime | None = None,
    ) -> Purchase:
        refused = refusal(sale, decided)
        if refused is not None:
            raise refused
        if decided.outcome is Outcome.REPEAT:
            return await self._repeat(sale, buyer_id, key, quantity, decided.quantity)
        claim = new_claim(sale, buyer_id, key, quantity, now or utcnow())
        try:
            claim_id = await self.writer.write(claim)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return await self._unwritten(sale, claim, exc)
        if claim_id is None:
            return await self._unwritten(sale, claim, None)
        return won(sale, claim, claim_id, decided.left)

    async def _unwritten(
        self, sale: SaleInfo, claim: NewClaim, exc: BaseException | None
    ) -> Purchase:
        """A granted claim the writer did not store as new: stored before (`exc` None), refused
        by the database, or not known to be written."""
        if exc is None:  # stored before: the arbiter had forgotten it (a Redis restart)
            await self.arbiter.release(sale, claim.buyer_id, claim.quantity, key=None)
            return await self._repeat(
                sale, claim.buyer_id, claim.key, claim.quantity, claim.quantity
            )
        if isinstance(exc, ClaimRefused):
            # The database's CHECKs say the arbiter was wrong: undo, repair, and say so.
            await self.arbiter.release(sale, claim.buyer_id, claim.quantity, key=claim.key)
            self.repair_soon(sale)
            raise sold_out(0) from None
        # Written or not, we cannot tell: the counters are rebuilt from the database.
        self.repair_soon(sale)
        raise AppError(
            "purchase_unconfirmed",
            "We could not confirm this purchase; send it again with the same key.",
            status=503,
        ) from exc

    async def _repeat(
        self, sale: SaleInfo, buyer_id: int, key: str, quantity: int, earlier: int
    ) -> Purchase:
        if earlier != quantity:
            raise AppError(
                "idempotency_key_reused",
                "This idempotency key was used for a different request.",
                status=422,
            )
        deadline = asyncio.get_running_loop().time() + REPEAT_WAIT_SECS
        while True:
            async with UnitOfWork(self.factory) as uow:
                stored = await SalesRepository(uow.session).claim_for(sale.id, buyer_id, key)
            if stored is not None:
                return Purchase(claim_out(stored, sale.currency), False, -1, sale.show_id)
            if asyncio.get_running_loop().time() > deadline:
                raise AppError(
                    "purchase_in_progress",
                    "The first request with this key is still being confirmed; try again.",
                    status=409,
                )
            await asyncio.sleep(0.05)  # the first answer is still being written

    # --- keeping the arbiter right ------------------------------------------------------------

    def repair_soon(self, sale: SaleInfo) -> None:
        """Reload the arbiter's counters from the database once this process has nothing of
        the sale still being written."""
        if sale.id in self._repairs:
            return

        async def repair() -> None:
            try:
                await self.writer.idle()
                await self.arbiter.load(sale, await self.read_ledger(sale.id))
            except Exception:
                log.exception("repairing sale %s from the database failed", sale.id)
            finally:
                self._repairs.pop(sale.id, None)

        self._repairs[sale.id] = asyncio.get_running_loop().create_task(repair())

    async def units_returned(self, sale_id: int, buyer_id: int, quantity: int) -> None:
        """An unpaid claim expired (committed): its units are for sale again."""
        try:
            sale = await self.info(sale_id)
        except NotFound:
            return
        await self.arbiter.release(sale, buyer_id, quantity, key=None)


def make_gate(factory: SessionFactory, *, backend: str, redis_url: str, secret: str) -> SaleGate:
    """The gate for `LIVECART_SALE_GATE` (embedded | redis; redis needs REDIS_URL)."""
    if backend == "embedded":
        return SaleGate(factory, EmbeddedArbiter, secret=secret)
    if backend != "redis":
        raise ValueError(f"unknown sale gate {backend!r} (embedded or redis)")
    if not redis_url:
        raise ValueError("LIVECART_SALE_GATE=redis needs REDIS_URL")
    from livecart.features.sales.redis_arbiter import RedisArbiter

    return SaleGate(factory, lambda read: RedisArbiter(redis_url, read), secret=secret)


def new_claim(sale: SaleInfo, buyer_id: int, key: str, quantity: int, now: datetime) -> NewClaim:
    return NewClaim(
        sale_id=sale.id,
        buyer_id=buyer_id,
        key=key,
        quantity=quantity,
        unit_price_minor=sale.price_minor,
        buyer_limit=sale.per_buyer_limit,
        expires_at=now + timedelta(seconds=sale.payment_window_secs),
        created_at=now,
    )


def won(sale: SaleInfo, claim: NewClaim, claim_id: int, left: int) -> Purchase:
    terms = WonClaim(
        claim_id, sale.id, claim.quantity, sale.price_minor, sale.currency, claim.expires_at
    )
    return Purchase(terms, True, left, sale.show_id)


def _answer_from(answer: Answer, task: asyncio.Task[Purchase]) -> None:
    if task.cancelled():  # the process is stopping: no answer
        return
    error = task.exception()
    answer(task.result() if error is None else error)


def refusal(sale: SaleInfo, decided: Reservation) -> AppError | None:
    """The error a refused decision is answered with; None for a grant or a repeat."""
    if decided.outcome is Outcome.SOLD_OUT:
        return sold_out(decided.left)
    if decided.outcome is Outcome.LIMIT:
        return over_limit(sale)
    return None


def over_limit(sale: SaleInfo) -> AppError:
    return AppError(
        "buyer_limit_reached", f"Each buyer may take at most {sale.per_buyer_limit}.", status=409
    )


def sold_out(left: int) -> AppError:
    left = max(0, left)
    return AppError(
        "sold_out",
        "Sold out." if left == 0 else f"Only {left} left.",
        status=409,
        data={"left": left},
    )
