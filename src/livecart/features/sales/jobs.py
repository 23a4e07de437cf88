"""Background work of the sales feature, run by the app in-process."""

from __future__ import annotations

import asyncio
import logging

from livecart.db.uow import SessionFactory, UnitOfWork
from livecart.features.sales import service
from livecart.features.sales.repository import SalesRepository
from livecart.realtime.hub import Hub

log = logging.getLogger(__name__)
EXPIRY_EVERY_SECS = 2.0


async def expire_claims_forever(factory: SessionFactory, gate: service.SaleGate, hub: Hub) -> None:
    """Unpaid claims expire at their deadline; their units go back on sale and on screen."""
    while True:
        await asyncio.sleep(EXPIRY_EVERY_SECS)
        try:
            await expire_claims_once(factory, gate, hub)
        except Exception:
            log.exception("expiring claims failed; will retry")


async def expire_claims_once(factory: SessionFactory, gate: service.SaleGate, hub: Hub) -> int:
    async with UnitOfWork(factory) as uow:
        repo = SalesRepository(uow.session)
        returned = await service.expire_overdue(repo, gate)
        for sale_id in returned:
            sale = await repo.sale(sale_id)
            if sale is not None:
                await uow.session.refresh(sale)
                show_id, key, left = sale.show_id, f"sale:{sale.id}", sale.allotted - sale.taken

                async def announce(
                    show_id: int = show_id, key: str = key, left: int = left
                ) -> None:
                    hub.set_stock(show_id, key, left)

                uow.after_commit(announce)
    return sum(returned.values())
