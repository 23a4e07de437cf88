"""Background work of the sales feature, run by the app in-process."""

from __future__ import annotations

import asyncio
import logging

from livecart.db.uow import SessionFactory, UnitOfWork
from livecart.features.sales import service
from livecart.features.sales.gate import SaleGate
from livecart.features.sales.repository import SalesRepository
from livecart.realtime.hub import Hub

log = logging.getLogger(__name__)
EXPIRY_EVERY_SECS = 2.0


async def expire_claims_forever(factory: SessionFactory, gate: SaleGate, hub: Hub) -> None:
    """Unpaid claims expire at their deadline; their units go back on sale and on screen."""
    while True:
        await asyncio.sleep(EXPIRY_EVERY_SECS)
        try:
            await expire_claims_once(factory, gate, hub)
        except Exception:
            log.exception("expiring claims failed; will retry")


async def expire_claims_once(factory: SessionFactory, gate: SaleGate, hub: Hub) -> int:
    async with UnitOfWork(factory) as uow:
        repo = SalesRepository(uow.session)
        expired = await service.expire_overdue(repo)
        returned = [(c.sale_id, c.buyer_id, c.quantity) for c in expired]
        shown: dict[int, tuple[int, int]] = {}
        for sale_id in {sale_id for sale_id, _, _ in returned}:
            sale = await repo.sale(sale_id)
            if sale is not None:
                await uow.session.refresh(sale)
                shown[sale.id] = (sale.show_id, sale.allotted - sale.taken)

        async def announce() -> None:
            for sale_id, buyer_id, quantity in returned:  # committed: the gate may sell them
                await gate.units_returned(sale_id, buyer_id, quantity)
            for sale_id, (show_id, left) in shown.items():
                hub.set_stock(show_id, f"sale:{sale_id}", left)

        uow.after_commit(announce)
    return sum(quantity for _, _, quantity in returned)
