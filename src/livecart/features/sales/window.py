"""fair_window in a process: requests of the window's first W ms wait here; at the window's end
they are decided in lot order by the same arbiter as any other request, the allocation log is
written (the seed with it becomes public), and each waiting caller gets its decision.

This is the embedded gate's window (one process). With the Redis gate the window is shared by
every process: shared_window.py.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from sqlalchemy import update

from livecart.db.uow import UnitOfWork
from livecart.errors import AppError
from livecart.features.sales import fair
from livecart.features.sales.arbiter import Outcome, Reservation, SaleInfo
from livecart.features.sales.models import FlashSale, SaleLot
from livecart.features.sales.repository import SalesRepository
from livecart.kit.clock import utcnow

if TYPE_CHECKING:
    from livecart.features.sales.gate import SaleGate

log = logging.getLogger(__name__)
LOGGED = {
    Outcome.GRANTED: "won",
    Outcome.SOLD_OUT: "sold_out",
    Outcome.LIMIT: "buyer_limit_reached",
}


class FairWindow:
    def __init__(self, gate: SaleGate, sale: SaleInfo) -> None:
        self.gate, self.sale = gate, sale
        self.requests: dict[tuple[int, str], tuple[int, asyncio.Future[Reservation]]] = {}
        self.closed = False
        self.done = asyncio.Event()
        loop = asyncio.get_running_loop()
        delay = max(0.0, (sale.window_ends - utcnow()).total_seconds())
        self._timer = loop.call_later(delay, self._close)
        self._task: asyncio.Task[None] | None = None

    async def enter(self, buyer_id: int, key: str, quantity: int) -> Reservation:
        if self.closed:  # arrived as the window was being decided: first come, after all of it
            await self.done.wait()
            return await self.gate.arbiter.reserve(self.sale, buyer_id, key, quantity)
        found = self.requests.get((buyer_id, key))
        if found is not None:
            if found[0] != quantity:
                raise AppError(
                    "idempotency_key_reused",
                    "This idempotency key was used for a different request.",
                    status=422,
                )
            future = found[1]
        else:
            future = asyncio.get_running_loop().create_future()
            self.requests[(buyer_id, key)] = (quantity, future)
        return await asyncio.shield(future)

    def cancel(self) -> None:
        self._timer.cancel()
        if self._task is not None:
            self._task.cancel()

    def _close(self) -> None:
        self.closed = True
        self._task = asyncio.get_running_loop().create_task(self._allocate())

    async def _allocate(self) -> None:
        try:
            await self._decide()
        except Exception as exc:
            log.exception("sale %s: deciding the fair window failed", self.sale.id)
            for _, future in self.requests.values():
                if not future.done():
                    future.set_exception(exc)
        finally:
            self.done.set()

    async def _decide(self) -> None:
        asked = [(b, k, q) for (b, k), (q, _) in self.requests.items()]
        for (buyer_id, key, _), decided in await draw(self.gate, self.sale, asked):
            future = self.requests[(buyer_id, key)][1]
            if not future.done():
                future.set_result(decided)


Request = tuple[int, str, int]  # buyer, idempotency key, quantity


async def draw(
    gate: SaleGate, sale: SaleInfo, requests: list[Request]
) -> list[tuple[Request, Reservation]]:
    """Decide a window's requests in lot order and write the allocation log (which makes the
    seed public); each request with its decision."""
    async with UnitOfWork(gate.factory) as uow:
        row = await SalesRepository(uow.session).sale(sale.id)
        seed = row.seed if row is not None else None
    if not seed:
        raise RuntimeError(f"sale {sale.id} has no seed")
    ordered = []
    for buyer_id, key, quantity in requests:
        name = fair.pseudonym(gate.secret, sale.id, buyer_id)
        digest = fair.key_hash(key)
        ordered.append((fair.lot(seed, name, digest), name, digest, buyer_id, key, quantity))
    ordered.sort()
    # Started in lot order; both arbiters decide in the order attempts start (Redis: batches in
    # arrival order; embedded: no await once the sale's counters are loaded).
    decided = await asyncio.gather(
        *(gate.arbiter.reserve(sale, b, k, q) for _, _, _, b, k, q in ordered)
    )
    lots = [
        SaleLot(
            sale_id=sale.id,
            position=position,
            pseudonym=name,
            key_hash=digest,
            quantity=quantity,
            lot=lot,
            outcome=LOGGED.get(d.outcome, "refused"),
        )
        for position, ((lot, name, digest, _, _, quantity), d) in enumerate(
            zip(ordered, decided, strict=True)
        )
    ]
    await write_allocation(gate, sale.id, lots)
    return [((b, k, q), d) for (_, _, _, b, k, q), d in zip(ordered, decided, strict=True)]


async def write_allocation(gate: SaleGate, sale_id: int, lots: list[SaleLot]) -> None:
    """The allocation log, and the moment from which the seed is public."""
    async with UnitOfWork(gate.factory) as uow:
        uow.session.add_all(lots)
        await uow.session.execute(
            update(FlashSale)
            .where(FlashSale.id == sale_id, FlashSale.allocated_at.is_(None))
            .values(allocated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
