"""Background work of the orders feature, run by the app in-process: expire unpaid orders
(their units go back on sale and on the room's screens), retry refunds the provider did not
take, and deliver the sandbox provider's notifications."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import httpx

from livecart.db.uow import SessionFactory, UnitOfWork
from livecart.features.orders import payments, service
from livecart.features.orders.repository import OrdersRepository
from livecart.features.orders.sandbox import bank
from livecart.features.sales.models import FlashSale
from livecart.kit.clock import utcnow

log = logging.getLogger(__name__)
EXPIRY_EVERY_SECS = 2.0
SALE_ORDERS_EVERY_SECS = 2.0
# A flash-sale claim this old without its order lost it to a crash (the sales writer writes it
# milliseconds after the claim, once no winner waits): the sweep writes it.
ORPHAN_AFTER = timedelta(seconds=5)
REFUND_RETRY_EVERY_SECS = 10.0
DELIVER_EVERY_SECS = 0.25
# Called after commit for each expired flash-sale order: its sale (as committed), buyer and units.
SaleUnitsBack = Callable[[FlashSale, int, int], Awaitable[None]]


MAX_BACKOFF_SECS = 60.0


async def every(seconds: float, work: Callable[[], Awaitable[object]], what: str) -> None:
    """Run `work` every `seconds`; after a failure wait longer each time (logged once a streak)."""
    wait, failing = seconds, False
    while True:
        await asyncio.sleep(wait)
        try:
            await work()
            wait, failing = seconds, False
        except Exception:
            if not failing:
                log.exception("%s failed; retrying with backoff", what)
            wait, failing = min(MAX_BACKOFF_SECS, wait * 2), True


async def expire_once(
    factory: SessionFactory, provider: payments.PaymentProvider, units_back: SaleUnitsBack
) -> int:
    async with UnitOfWork(factory) as uow:
        ctx = service.Orders(OrdersRepository(uow.session), provider, uow.after_commit)
        expired = await service.expire_overdue(ctx)
        returned: list[tuple[FlashSale, int, int]] = []
        for order in expired:
            sale = await uow.session.get(FlashSale, order.sale_id) if order.sale_id else None
            if sale is not None:
                await uow.session.refresh(sale)
                units = sum(i.quantity for i in (await ctx.repo.items([order.id]))[order.id])
                returned.append((sale, order.buyer_id, units))

        async def announce() -> None:  # committed: the gate may sell them again
            for sale, buyer_id, units in returned:
                await units_back(sale, buyer_id, units)

        uow.after_commit(announce)
    return len(expired)


async def sale_orders_once(factory: SessionFactory) -> int:
    """Orders for flash-sale claims a crash left without one (PostgreSQL); they can then be
    paid, and expire like the others."""
    async with UnitOfWork(factory) as uow:
        return await OrdersRepository(uow.session).write_missing_sale_orders(
            utcnow() - ORPHAN_AFTER
        )


async def retry_refunds_once(factory: SessionFactory, provider: payments.PaymentProvider) -> int:
    async with UnitOfWork(factory) as uow:
        ctx = service.Orders(OrdersRepository(uow.session), provider, uow.after_commit)
        due = await service.refunds_to_retry(ctx)
    for ref, amount in due:  # outside the transaction: the provider is another service
        await provider.refund(provider_ref=ref, amount_minor=amount)
    return len(due)


def sandbox_client(
    base_url: str, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base_url, transport=transport, timeout=10.0)


async def deliver_sandbox_once(
    factory: SessionFactory,
    client: httpx.AsyncClient,
    site_secret: str,
    rng: random.Random,
    *,
    now: datetime | None = None,
) -> int:
    secret = payments.webhook_secret(site_secret)
    return await bank.deliver_due(factory, client, secret, rng, now=now)
