"""The gate's arbiter: one atomic decision per purchase attempt — the repeat check, the stock, the
buyer's limit and the reservation together. Two implementations behind one protocol: in process
memory (embedded, here) and a Redis Lua script (scale-out, `redis_arbiter.py`).

An arbiter only reserves; a reservation becomes a sale when `WinnerWriter` commits it,
and only then is the buyer told. The database's CHECK constraints back the arbiter: if it were ever
wrong, the write is refused, the reservation is undone and the buyer hears "sold out".
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NamedTuple, Protocol

from livecart.features.sales import rules


@dataclass(frozen=True, slots=True)
class SaleInfo:
    """What never changes about a sale once it is open: cached per process."""

    id: int
    show_id: int
    allotted: int
    per_buyer_limit: int
    opens_at: datetime
    closes_at: datetime
    price_minor: int
    currency: str
    payment_window_secs: int
    mode: str
    window_ms: int

    @property
    def terms(self) -> rules.SaleTerms:
        return rules.SaleTerms(self.allotted, self.per_buyer_limit, self.opens_at, self.closes_at)

    @property
    def window_ends(self) -> datetime:
        return self.opens_at + timedelta(milliseconds=self.window_ms)


@dataclass(slots=True)
class Ledger:
    """A sale's counters: units taken, units per buyer and the winning requests
    ((buyer, key) → quantity). The database's version is the truth the arbiters load from."""

    taken: int = 0
    buyers: dict[int, int] = field(default_factory=dict)
    requests: dict[tuple[int, str], int] = field(default_factory=dict)


class Outcome(StrEnum):
    GRANTED = "granted"
    REPEAT = "repeat"  # this (buyer, key) won before; `quantity` is what it asked for then
    SOLD_OUT = "sold_out"
    LIMIT = "buyer_limit_reached"


class Reservation(NamedTuple):
    """An arbiter's decision on one attempt. (A named tuple: one is made per attempt.)"""

    outcome: Outcome
    left: int  # units left after this decision (-1: not known without asking the store)
    quantity: int = 0


LedgerReader = Callable[[int], Awaitable[Ledger]]
# Told an attempt's decision (or the error that kept it from one), by the batch that decided it.
Decided = Callable[[Reservation | BaseException], None]


class Arbiter(Protocol):
    name: str
    # Called after each batch `reserve_soon` decided has been told (the gate: start writing
    # its winners at once).
    after_batch: Callable[[], None]

    def peek(self, sale: SaleInfo, buyer_id: int, key: str) -> Reservation | None:
        """A local answer that needs no store (sold out, or a repeat known here); else None."""
        ...

    async def lookup(self, sale: SaleInfo, buyer_id: int, key: str) -> int | None:
        """The quantity of this request if it won before, else None."""
        ...

    async def reserve(
        self, sale: SaleInfo, buyer_id: int, key: str, quantity: int
    ) -> Reservation: ...

    def reserve_now(
        self, sale: SaleInfo, buyer_id: int, key: str, quantity: int
    ) -> Reservation | None:
        """`reserve` without waiting, when the arbiter can decide in memory; else None."""
        ...

    def reserve_soon(
        self, sale: SaleInfo, buyer_id: int, key: str, quantity: int, decided: Decided
    ) -> bool:
        """`reserve` without a task, a future or an await: the attempt joins the next batch,
        which calls `decided` itself. False (and `decided` is never called) when
        `reserve_now` decides in memory."""
        ...

    async def prime(self, sale: SaleInfo) -> None:
        """Have the sale's counters ready before its first attempt."""
        ...

    async def release(
        self, sale: SaleInfo, buyer_id: int, quantity: int, *, key: str | None
    ) -> None:
        """Give units back: `key` set undoes a reservation the database refused (the request
        is forgotten); None returns an expired claim's units (a repeat still finds its claim)."""
        ...

    async def load(self, sale: SaleInfo, ledger: Ledger) -> None:
        """Replace the sale's counters with `ledger` (the reconciler's repair)."""
        ...

    async def counters(self, sale: SaleInfo) -> Ledger | None:
        """The counters as the arbiter holds them, or None when it holds none for this sale."""
        ...

    def forget(self) -> None:
        """Drop every local cache (tests start from empty tables)."""
        ...

    async def drop(self, sale_id: int) -> None:
        """Remove whatever is held for this sale id (a new sale: SQLite may reuse a deleted id)."""
        ...

    async def close(self) -> None: ...


class EmbeddedArbiter:
    """Counters in this process's memory, loaded from the database on a sale's first attempt.
    A reservation runs without an `await`, so on one event loop it is atomic. One process only:
    with several, use the Redis arbiter (the database's CHECKs would still refuse an oversell)."""

    name = "embedded"

    def __init__(self, read_ledger: LedgerReader) -> None:
        self.after_batch: Callable[[], None] = do_nothing  # never called: no batches here
        self._read_ledger = read_ledger
        self._ledgers: dict[int, Ledger] = {}
        self._loading: dict[int, asyncio.Lock] = {}

    async def _ledger(self, sale: SaleInfo) -> Ledger:
        ledger = self._ledgers.get(sale.id)
        if ledger is not None:
            return ledger
        lock = self._loading.setdefault(sale.id, asyncio.Lock())
        async with lock:
            ledger = self._ledgers.get(sale.id)
            if ledger is None:
                ledger = self._ledgers[sale.id] = await self._read_ledger(sale.id)
        return ledger

    def peek(self, sale: SaleInfo, buyer_id: int, key: str) -> Reservation | None:
        ledger = self._ledgers.get(sale.id)
        if ledger is None:
            return None
        left = sale.allotted - ledger.taken
        earlier = ledger.requests.get((buyer_id, key))
        if earlier is not None:
            return Reservation(Outcome.REPEAT, left, earlier)
        if left <= 0:
            return Reservation(Outcome.SOLD_OUT, 0)
        return None

    async def lookup(self, sale: SaleInfo, buyer_id: int, key: str) -> int | None:
        return (await self._ledger(sale)).requests.get((buyer_id, key))

    async def reserve(self, sale: SaleInfo, buyer_id: int, key: str, quantity: int) -> Reservation:
        return self._decide(await self._ledger(sale), sale, buyer_id, key, quantity)

    def reserve_now(
        self, sale: SaleInfo, buyer_id: int, key: str, quantity: int
    ) -> Reservation | None:
        ledger = self._ledgers.get(sale.id)
        return None if ledger is None else self._decide(ledger, sale, buyer_id, key, quantity)

    def reserve_soon(
        self, sale: SaleInfo, buyer_id: int, key: str, quantity: int, decided: Decided
    ) -> bool:
        return False  # `reserve_now` decides, once the ledger is loaded

    async def prime(self, sale: SaleInfo) -> None:
        await self._ledger(sale)

    def _decide(
        self, ledger: Ledger, sale: SaleInfo, buyer_id: int, key: str, quantity: int
    ) -> Reservation:
        # No await in here: on one event loop nothing else runs in between.
        earlier = ledger.requests.get((buyer_id, key))
        left = sale.allotted - ledger.taken
        if earlier is not None:
            return Reservation(Outcome.REPEAT, left, earlier)
        held = ledger.buyers.get(buyer_id, 0)
        refusal = rules.decide(sale.terms, taken=ledger.taken, buyer_taken=held, quantity=quantity)
        if refusal is not None:
            return Reservation(Outcome(refusal), left)
        ledger.taken += quantity
        ledger.buyers[buyer_id] = held + quantity
        ledger.requests[(buyer_id, key)] = quantity
        return Reservation(Outcome.GRANTED, left - quantity, quantity)

    async def release(
        self, sale: SaleInfo, buyer_id: int, quantity: int, *, key: str | None
    ) -> None:
        ledger = self._ledgers.get(sale.id)
        if ledger is None:
            return  # loaded from the database on next use, which already has it
        ledger.taken = max(0, ledger.taken - quantity)
        ledger.buyers[buyer_id] = max(0, ledger.buyers.get(buyer_id, 0) - quantity)
        if key is not None:
            ledger.requests.pop((buyer_id, key), None)

    async def load(self, sale: SaleInfo, ledger: Ledger) -> None:
        self._ledgers[sale.id] = ledger

    async def counters(self, sale: SaleInfo) -> Ledger | None:
        return self._ledgers.get(sale.id)

    def forget(self) -> None:
        self._ledgers.clear()

    async def drop(self, sale_id: int) -> None:
        self._ledgers.pop(sale_id, None)

    async def close(self) -> None:
        return None


def do_nothing() -> None:
    return None
