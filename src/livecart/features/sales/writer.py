"""Winners become durable here, in small group commits, before anyone is told they won.

`persist_winners` is the one place a winning claim is written: the claim rows, the sale's `taken`
and each buyer's `taken`, in the caller's transaction; the writer's `on_won` hook then makes each
claim's order in the same transaction. `WinnerWriter` is the boundary that calls it: while one batch
commits, the next winners wait and then go together, so one transaction carries many winners
without any fixed delay.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from livecart.db.uow import SessionFactory, UnitOfWork
from livecart.features.sales.models import FlashSale, SaleBuyer, SaleClaim

log = logging.getLogger(__name__)
# Winners per transaction. While one commits, the next queue up: at a sale's opening, winners
# come 512 per arbiter call, and two commits of up to 1,024 tell them sooner than four of 256.
MAX_BATCH = 1024

RequestKey = tuple[int, int, str]  # sale, buyer, idempotency key


@dataclass(frozen=True, slots=True)
class NewClaim:
    """A reservation the arbiter granted, to be made durable."""

    sale_id: int
    buyer_id: int
    key: str
    quantity: int
    unit_price_minor: int
    buyer_limit: int
    expires_at: datetime
    created_at: datetime

    @property
    def request(self) -> RequestKey:
        return self.sale_id, self.buyer_id, self.key


# Called in the winners' transaction with each inserted claim's id: the orders feature makes the
# orders there, so a claim never exists without its order.
OnWon = Callable[[AsyncSession, Sequence[tuple[int, "NewClaim"]]], Awaitable[None]]


class ClaimRefused(Exception):
    """The database refused the claim (a CHECK: the arbiter was wrong); nothing was written."""


def _insert(session: AsyncSession) -> type[postgresql.Insert] | type[sqlite.Insert]:
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    return postgresql.Insert if dialect == "postgresql" else sqlite.Insert


async def persist_winners(
    session: AsyncSession, claims: Sequence[NewClaim]
) -> dict[RequestKey, int]:
    """Write winning claims in the session's transaction (the caller commits). Returns the new
    claim id of each request inserted; a request already stored (the same sale, buyer and key)
    is skipped and absent from the result. Raises IntegrityError when a CHECK refuses the units
    (more than allotted, or over a buyer's limit); the caller rolls back.

    The writer then calls its `on_won` hook in this same transaction (orders)."""
    if not claims:
        return {}
    insert = _insert(session)
    # One cached statement, executed with a list of rows: SQLAlchemy sends them as multi-row
    # INSERTs ("insertmanyvalues") without compiling a statement per batch size (a 256-row VALUES
    # clause cost ~0.3 ms of Python per row here).
    rows = await session.execute(
        insert(SaleClaim)
        .on_conflict_do_nothing(index_elements=["sale_id", "buyer_id", "idempotency_key"])
        .returning(SaleClaim.id, SaleClaim.sale_id, SaleClaim.buyer_id, SaleClaim.idempotency_key),
        [
            {
                "sale_id": c.sale_id,
                "buyer_id": c.buyer_id,
                "idempotency_key": c.key,
                "quantity": c.quantity,
                "unit_price_minor": c.unit_price_minor,
                "status": "awaiting_payment",
                "expires_at": c.expires_at,
                "created_at": c.created_at,
            }
            for c in claims
        ],
    )
    inserted = {(sale, buyer, key): claim_id for claim_id, sale, buyer, key in rows.all()}
    per_sale: dict[int, int] = {}
    per_buyer: dict[tuple[int, int], tuple[int, int]] = {}
    for c in claims:
        if c.request in inserted:
            per_sale[c.sale_id] = per_sale.get(c.sale_id, 0) + c.quantity
            units, _ = per_buyer.get((c.sale_id, c.buyer_id), (0, c.buyer_limit))
            per_buyer[(c.sale_id, c.buyer_id)] = (units + c.quantity, c.buyer_limit)
    for sale_id, units in sorted(per_sale.items()):
        await session.execute(
            update(FlashSale)
            .where(FlashSale.id == sale_id)
            .values(taken=FlashSale.taken + units)
            .execution_options(synchronize_session=False)
        )
    if per_buyer:
        stmt = insert(SaleBuyer)
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["sale_id", "buyer_id"],
                set_={"taken": SaleBuyer.taken + stmt.excluded.taken},
            ),
            [
                {"sale_id": s, "buyer_id": b, "taken": units, "buyer_limit": limit}
                for (s, b), (units, limit) in sorted(per_buyer.items())
            ],
        )
    return inserted


class WinnerWriter:
    """Group commit of winners: `write` returns once the claim is committed."""

    def __init__(self, factory: SessionFactory, *, max_batch: int = MAX_BATCH) -> None:
        self._factory = factory
        self._max_batch = max_batch
        self.on_won: OnWon | None = None
        self._pending: list[tuple[NewClaim, asyncio.Future[int | None]]] = []
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    async def idle(self) -> None:
        """Returns when nothing is waiting to be written or being written."""
        await self._idle.wait()

    async def write(self, claim: NewClaim) -> int | None:
        """The new claim's id once committed; None when the request was stored before. Raises
        ClaimRefused when the database refuses it, or the database's error."""
        future: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._pending.append((claim, future))
        self._idle.clear()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                await self._commit(batch)
        finally:
            self._task = None
            self._idle.set()

    async def _commit(self, batch: list[tuple[NewClaim, asyncio.Future[int | None]]]) -> None:
        try:
            ids = await self._persist([c for c, _ in batch])
        except IntegrityError:
            # Some claim broke a CHECK: find it by writing each alone; the others go through.
            for claim, future in batch:
                try:
                    one = await self._persist([claim])
                except IntegrityError:
                    _settle(future, exc=ClaimRefused(claim.request))
                except Exception as exc:
                    _settle(future, exc=exc)
                else:
                    _settle(future, value=one.get(claim.request))
            return
        except Exception as exc:
            log.exception("writing %d winners failed", len(batch))
            for _, future in batch:
                _settle(future, exc=exc)
            return
        for claim, future in batch:
            _settle(future, value=ids.get(claim.request))

    async def _persist(self, claims: list[NewClaim]) -> dict[RequestKey, int]:
        async with UnitOfWork(self._factory) as uow:
            ids = await persist_winners(uow.session, claims)
            if self.on_won is not None and ids:
                await self.on_won(
                    uow.session, [(ids[c.request], c) for c in claims if c.request in ids]
                )
            return ids

    async def close(self) -> None:
        if self._task is not None:
            await asyncio.wait([self._task], timeout=5)


def _settle(
    future: asyncio.Future[int | None],
    *,
    value: int | None = None,
    exc: BaseException | None = None,
) -> None:
    if future.done():  # the caller went away (its connection closed)
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(value)
