"""Every query of the sales feature. The gate's steps are single conditional statements, so
concurrent buyers cannot take more than there is, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, exists, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from livecart.db.inserts import insert_if_absent
from livecart.features.accounts.models import User
from livecart.features.sales.arbiter import Ledger
from livecart.features.sales.models import FlashSale, SaleBuyer, SaleClaim, SaleLot

LIVE = ("awaiting_payment", "paid")


class SalesRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def sale(self, sale_id: int) -> FlashSale | None:
        return await self.session.get(FlashSale, sale_id)

    async def claim_for(self, sale_id: int, buyer_id: int, key: str) -> SaleClaim | None:
        return await self.session.scalar(
            select(SaleClaim).where(
                SaleClaim.sale_id == sale_id,
                SaleClaim.buyer_id == buyer_id,
                SaleClaim.idempotency_key == key,
            )
        )

    async def insert_claim(self, claim: SaleClaim) -> bool:
        """Insert unless the same request (sale, buyer, key) is already there."""
        return await insert_if_absent(
            self.session,
            SaleClaim,
            sale_id=claim.sale_id,
            buyer_id=claim.buyer_id,
            idempotency_key=claim.idempotency_key,
            quantity=claim.quantity,
            unit_price_minor=claim.unit_price_minor,
            status=claim.status,
            expires_at=claim.expires_at,
            created_at=claim.created_at,
        )

    async def units_left(self, sale_id: int) -> int:
        row = (
            await self.session.execute(
                select(FlashSale.allotted - FlashSale.taken).where(FlashSale.id == sale_id)
            )
        ).scalar_one()
        return int(row)

    async def take_units(self, sale_id: int, quantity: int) -> int | None:
        """Add to `taken` if it stays within `allotted`; the new total, or None (sold out)."""
        result = await self.session.execute(
            update(FlashSale)
            .where(FlashSale.id == sale_id, FlashSale.taken + quantity <= FlashSale.allotted)
            .values(taken=FlashSale.taken + quantity)
            .returning(FlashSale.taken)
            .execution_options(synchronize_session=False)
        )
        return result.scalar_one_or_none()

    async def take_for_buyer(self, sale_id: int, buyer_id: int, quantity: int, limit: int) -> bool:
        await insert_if_absent(
            self.session, SaleBuyer, sale_id=sale_id, buyer_id=buyer_id, taken=0, buyer_limit=limit
        )
        result = await self.session.execute(
            update(SaleBuyer)
            .where(
                SaleBuyer.sale_id == sale_id,
                SaleBuyer.buyer_id == buyer_id,
                SaleBuyer.taken + quantity <= SaleBuyer.buyer_limit,
            )
            .values(taken=SaleBuyer.taken + quantity)
            .returning(SaleBuyer.taken)
            .execution_options(synchronize_session=False)
        )
        return result.scalar_one_or_none() is not None

    async def end_claim(self, claim_id: int, status: str) -> bool:
        """End an unpaid claim (`expired` or `cancelled`) if it is still awaiting payment: of two
        runs at once, one wins, and only the winner gives its units back."""
        result = await self.session.execute(
            update(SaleClaim)
            .where(SaleClaim.id == claim_id, SaleClaim.status == "awaiting_payment")
            .values(status=status)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    async def give_back(self, claim: SaleClaim) -> None:
        """Return an unpaid claim's units to the sale and to the buyer's allowance."""
        await self.session.execute(
            update(FlashSale)
            .where(FlashSale.id == claim.sale_id)
            .values(taken=FlashSale.taken - claim.quantity)
            .execution_options(synchronize_session=False)
        )
        await self.session.execute(
            update(SaleBuyer)
            .where(SaleBuyer.sale_id == claim.sale_id, SaleBuyer.buyer_id == claim.buyer_id)
            .values(taken=SaleBuyer.taken - claim.quantity)
            .execution_options(synchronize_session=False)
        )

    async def closed_with_surplus(self, now: datetime, limit: int = 100) -> list[FlashSale]:
        rows = await self.session.scalars(
            select(FlashSale)
            .where(
                FlashSale.closes_at <= now,
                FlashSale.allotted - FlashSale.taken - FlashSale.units_returned > 0,
            )
            .order_by(FlashSale.id)
            .limit(limit)
        )
        return list(rows)

    async def mark_returned(self, sale_id: int, seen: int, units: int) -> bool:
        """Record units moved back, only if no one else did it since `seen` was read."""
        result = await self.session.execute(
            update(FlashSale)
            .where(FlashSale.id == sale_id, FlashSale.units_returned == seen)
            .values(units_returned=FlashSale.units_returned + units)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    async def claims_of_sale(self, sale_id: int) -> list[SaleClaim]:
        rows = await self.session.scalars(
            select(SaleClaim).where(SaleClaim.sale_id == sale_id).order_by(SaleClaim.id)
        )
        return list(rows)

    async def unmatched(self, sale_id: int, more_sql: str = "") -> dict[str, int]:
        """References of the sale's rows that do not resolve (the winners' tables have no
        foreign keys, ADR 0004): claims and buyer rows whose user is gone, and what
        `more_sql` counts (one row of named counts for `:sale_id`; the orders feature's)."""
        out: dict[str, int] = {}
        for name, model in (("claims_without_user", SaleClaim), ("buyers_without_user", SaleBuyer)):
            out[name] = int(
                await self.session.scalar(
                    select(func.count())
                    .select_from(model)
                    .where(model.sale_id == sale_id, ~exists().where(User.id == model.buyer_id))
                )
                or 0
            )
        if more_sql:
            row = (await self.session.execute(text(more_sql), {"sale_id": sale_id})).one()
            out.update({name: int(value or 0) for name, value in row._mapping.items()})
        return out

    async def counters(self, sale_id: int) -> Ledger:
        """The sale's counters as the database holds them (`flash_sales.taken`, `sale_buyers`;
        the CHECKs guard these), with every winning request."""
        taken = await self.session.scalar(select(FlashSale.taken).where(FlashSale.id == sale_id))
        buyers = await self.session.execute(
            select(SaleBuyer.buyer_id, SaleBuyer.taken).where(
                SaleBuyer.sale_id == sale_id, SaleBuyer.taken > 0
            )
        )
        requests = await self.session.execute(
            select(SaleClaim.buyer_id, SaleClaim.idempotency_key, SaleClaim.quantity).where(
                SaleClaim.sale_id == sale_id
            )
        )
        return Ledger(
            taken=int(taken or 0),
            buyers={int(b): int(t) for b, t in buyers.all()},
            requests={(int(b), str(k)): int(q) for b, k, q in requests.all()},
        )

    async def claimed(self, sale_id: int) -> Ledger:
        """The truth the gate loads and repairs from: what the live claims (awaiting payment or
        paid) add up to, per sale and per buyer, and every request that ever won."""
        per_buyer = await self.session.execute(
            select(SaleClaim.buyer_id, func.sum(SaleClaim.quantity))
            .where(SaleClaim.sale_id == sale_id, SaleClaim.status.in_(LIVE))
            .group_by(SaleClaim.buyer_id)
        )
        buyers = {int(b): int(t) for b, t in per_buyer.all()}
        requests = await self.session.execute(
            select(SaleClaim.buyer_id, SaleClaim.idempotency_key, SaleClaim.quantity).where(
                SaleClaim.sale_id == sale_id
            )
        )
        return Ledger(
            taken=sum(buyers.values()),
            buyers=buyers,
            requests={(int(b), str(k)): int(q) for b, k, q in requests.all()},
        )

    async def set_counters(self, sale_id: int, ledger: Ledger, limit: int) -> None:
        """Make the sale's and the buyers' counters say what `ledger` says (the repair)."""
        await self.session.execute(
            update(FlashSale)
            .where(FlashSale.id == sale_id)
            .values(taken=ledger.taken)
            .execution_options(synchronize_session=False)
        )
        await self.session.execute(delete(SaleBuyer).where(SaleBuyer.sale_id == sale_id))
        if ledger.buyers:
            await self.session.execute(
                insert(SaleBuyer),
                [
                    {"sale_id": sale_id, "buyer_id": b, "taken": t, "buyer_limit": limit}
                    for b, t in ledger.buyers.items()
                ],
            )

    async def lots(self, sale_id: int) -> list[SaleLot]:
        rows = await self.session.scalars(
            select(SaleLot).where(SaleLot.sale_id == sale_id).order_by(SaleLot.position)
        )
        return list(rows)
