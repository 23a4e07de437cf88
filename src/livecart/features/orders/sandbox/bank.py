"""The sandbox provider: a hosted payment page, charges, refunds and signed notifications that
arrive late, twice and out of order, the way real providers' do.

It keeps its own tables and commits in its own transactions, so the shop talks to it as to an
outside service: the shop's transaction can fail after a charge was opened, a notification can
arrive before the shop has saved the payment it belongs to. Notifications are retried with
backoff until the shop answers 2xx.
"""

from __future__ import annotations

import logging
import random
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from livecart.db.uow import SessionFactory, UnitOfWork
from livecart.errors import AppError, NotFound
from livecart.features.orders import payments
from livecart.features.orders.sandbox.models import SandboxCharge, SandboxDelivery
from livecart.kit.clock import to_ms, utcnow

log = logging.getLogger(__name__)
NAME = "sandbox"
MAX_ATTEMPTS = 12
BACKOFF_CAP_SECS = 60.0
DELIVERY_BATCH = 50


@dataclass
class Chaos:
    """How unreliable the notifications are: a share delivered twice, and a random delay that
    reorders them."""

    duplicate_rate: float = 0.2
    max_delay_ms: int = 1500
    rng: random.Random = field(default_factory=random.Random)


async def charge_by_ref(session: AsyncSession, ref: str) -> SandboxCharge:
    charge = await session.scalar(select(SandboxCharge).where(SandboxCharge.ref == ref))
    if charge is None:
        raise NotFound("charge", ref=ref[:40])
    return charge


def _enqueue(
    session: AsyncSession, charge: SandboxCharge, kind: str, chaos: Chaos, now: datetime
) -> None:
    event_id = "evt_" + secrets.token_hex(12)
    body = orjson.dumps(
        {
            "id": event_id,
            "type": kind,
            "created": to_ms(now),
            "data": {
                "charge": charge.ref,
                "merchant_ref": charge.merchant_ref,
                "amount": charge.amount_minor,
                "currency": charge.currency,
            },
        }
    ).decode()
    copies = 2 if chaos.rng.random() < chaos.duplicate_rate else 1
    for _ in range(copies):
        delay = timedelta(milliseconds=chaos.rng.randint(0, max(0, chaos.max_delay_ms)))
        session.add(
            SandboxDelivery(
                event_id=event_id, url=charge.notify_url, body=body, next_at=now + delay
            )
        )


async def settle(
    session: AsyncSession, ref: str, *, paid: bool, chaos: Chaos, now: datetime | None = None
) -> SandboxCharge:
    """The buyer pressed pay (or fail) on the hosted page. Settling twice changes nothing."""
    now = now or utcnow()
    charge = await charge_by_ref(session, ref)
    if charge.status != "open":
        return charge
    charge.status = "paid" if paid else "failed"
    charge.paid_at = now if paid else None
    _enqueue(session, charge, "payment.succeeded" if paid else "payment.failed", chaos, now)
    return charge


async def refund(
    session: AsyncSession, ref: str, *, chaos: Chaos, now: datetime | None = None
) -> SandboxCharge:
    now = now or utcnow()
    charge = await charge_by_ref(session, ref)
    if charge.status == "refunded":
        return charge
    if charge.status != "paid":
        raise AppError("charge_not_paid", "Only a paid charge can be refunded.", status=409)
    charge.status = "refunded"
    charge.refunded_at = now
    _enqueue(session, charge, "refund.succeeded", chaos, now)
    return charge


class SandboxProvider:
    """`PaymentProvider` for the sandbox. Each call is its own transaction, like a network call."""

    name = NAME

    def __init__(
        self, factory: SessionFactory, *, site_secret: str, notify_url: str, chaos: Chaos
    ) -> None:
        self.factory = factory
        self.secret = payments.webhook_secret(site_secret)
        self.notify_url = notify_url
        self.chaos = chaos

    async def create_checkout(
        self, *, merchant_ref: str, amount_minor: int, currency: str, return_url: str
    ) -> payments.Checkout:
        ref = "ch_" + secrets.token_hex(12)
        async with UnitOfWork(self.factory) as uow:
            uow.session.add(
                SandboxCharge(
                    ref=ref,
                    merchant_ref=merchant_ref,
                    amount_minor=amount_minor,
                    currency=currency,
                    status="open",
                    return_url=return_url,
                    notify_url=self.notify_url,
                )
            )
        return payments.Checkout(provider_ref=ref, pay_url=f"/sandbox/pay/{ref}")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> payments.ProviderEvent:
        payments.verify(self.secret, body, headers.get(payments.SIGNATURE_HEADER))
        return payments.parse_event(body)

    async def refund(self, *, provider_ref: str, amount_minor: int) -> str:
        async with UnitOfWork(self.factory) as uow:
            charge = await refund(uow.session, provider_ref, chaos=self.chaos)
            return charge.ref


async def deliver_due(
    factory: SessionFactory,
    client: httpx.AsyncClient,
    secret: bytes,
    rng: random.Random,
    *,
    now: datetime | None = None,
) -> int:
    """Send the notifications that are due, in no particular order. Returns how many the shop
    accepted. A refused or failed send is tried again later, waiting longer each time."""
    now = now or utcnow()
    async with UnitOfWork(factory) as uow:
        due = list(
            await uow.session.scalars(
                select(SandboxDelivery)
                .where(SandboxDelivery.delivered_at.is_(None), SandboxDelivery.next_at <= now)
                .order_by(SandboxDelivery.next_at)
                .limit(DELIVERY_BATCH)
            )
        )
        rng.shuffle(due)
        accepted = 0
        for delivery in due:
            body = delivery.body.encode()
            error: str | None
            try:
                response = await client.post(
                    delivery.url,
                    content=body,
                    headers={
                        "content-type": "application/json",
                        payments.SIGNATURE_HEADER: payments.sign(secret, body),
                    },
                )
                error = None if response.is_success else f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}"
            delivery.attempts += 1
            if error is None:
                delivery.delivered_at = now
                delivery.next_at = None
                accepted += 1
                continue
            delivery.last_error = error
            if delivery.attempts >= MAX_ATTEMPTS:
                delivery.next_at = None
                log.warning("sandbox gave up notifying %s", delivery.event_id)
            else:
                wait = min(BACKOFF_CAP_SECS, 0.5 * 2**delivery.attempts)
                delivery.next_at = now + timedelta(seconds=wait)
        return accepted
