"""Flash sales: open one with a link drop, buy through the gate (`gate.py`), expire unpaid
claims, publish a fair_window sale's allocation. Services never commit."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from livecart.errors import AppError, NotFound, Unauthorized
from livecart.features.accounts.models import User
from livecart.features.catalog.models import Variant
from livecart.features.rooms import service as rooms
from livecart.features.sales import fair, rules
from livecart.features.sales.gate import Purchase, SaleGate
from livecart.features.sales.models import FlashSale, SaleClaim
from livecart.features.sales.repository import SalesRepository
from livecart.features.sales.schemas import AllocationOut, ClaimOut, LotOut, SaleIn, SaleOut
from livecart.kit.clock import as_utc, utcnow
from livecart.kit.money import Money
from livecart.realtime import events as ev

EXPIRY_BATCH = 500


def terms(sale: FlashSale) -> rules.SaleTerms:
    return rules.SaleTerms(
        sale.allotted, sale.per_buyer_limit, as_utc(sale.opens_at), as_utc(sale.closes_at)
    )


async def open_sale(
    ctx: rooms.RoomContext, m: rooms.Member, data: SaleIn, gate: SaleGate
) -> FlashSale:
    """Drop a product with a flash sale on one of its variants (the show's host or moderators)."""
    staff = m.require_staff()
    variant = await ctx.rooms.session.get(Variant, data.variant_id)
    if variant is None or variant.archived:
        raise NotFound("variant", variant_id=data.variant_id)
    product = await rooms.lineup_product(ctx, m.show, variant.product_id)
    if data.units > variant.stock:
        raise AppError(
            "not_enough_stock",
            f"Only {variant.stock} in stock.",
            status=409,
            data={"stock": variant.stock},
        )
    price = Money(data.price, product.currency)
    now = utcnow()
    opens_at = now + timedelta(milliseconds=data.countdown_ms)
    sale = FlashSale(
        show_id=m.show.id,
        variant_id=variant.id,
        price_minor=price.minor,
        currency=product.currency,
        allotted=data.units,
        taken=0,
        per_buyer_limit=data.per_buyer_limit,
        opens_at=opens_at,
        closes_at=opens_at + timedelta(seconds=data.duration_secs),
        payment_window_secs=data.payment_window_secs,
        mode=data.mode,
        window_ms=data.window_ms if data.mode == "fair_window" else 0,
        by_user_id=staff.id,
    )
    if data.mode == "fair_window":
        sale.seed = secrets.token_hex(32)
        sale.seed_hash = fair.seed_hash(sale.seed)
    ctx.rooms.session.add(sale)
    await ctx.rooms.session.flush()
    await gate.forget_sale(sale.id)  # SQLite may hand out the id of a deleted row again
    offer = ev.SaleOffer(
        sale_id=sale.id,
        variant_id=variant.id,
        price=str(price.amount),
        units=sale.allotted,
        per_buyer_limit=sale.per_buyer_limit,
        closes_at=int(sale.closes_at.timestamp() * 1000),
        mode=sale.mode,
        window_ms=sale.window_ms,
        seed_hash=sale.seed_hash,
    )
    dropped = await rooms.drop(ctx, m, product.id, data.countdown_ms, now=now, sale=offer)
    sale.drop_id = dropped.drop_id
    return sale


async def purchase(
    gate: SaleGate,
    buyer: User | None,
    sale_id: int,
    *,
    quantity: int,
    key: str,
    now: datetime | None = None,
) -> Purchase:
    """Buy through the gate. The claim, and whether this request created it (False: a repeat of
    an earlier request with the same key, answered as the first time)."""
    if buyer is None:
        raise Unauthorized("Log in to buy.")
    return await gate.purchase(buyer.id, sale_id, quantity=quantity, key=key, now=now)


async def expire_overdue(repo: SalesRepository, *, now: datetime | None = None) -> list[SaleClaim]:
    """Expire unpaid claims past their deadline and give their units back to the sale and to
    the buyer's allowance (the gate hears of it after commit). Returns the expired claims."""
    now = now or utcnow()
    expired = []
    for claim in await repo.overdue_claims(now, EXPIRY_BATCH):
        if await repo.mark_expired(claim):
            await repo.give_back(claim)
            expired.append(claim)
    return expired


def sale_out(sale: FlashSale, product_id: int, *, now: datetime | None = None) -> SaleOut:
    now = now or utcnow()
    return SaleOut(
        id=sale.id,
        show_id=sale.show_id,
        variant_id=sale.variant_id,
        product_id=product_id,
        currency=sale.currency,
        price=Money.from_minor(sale.price_minor, sale.currency).amount,
        allotted=sale.allotted,
        left=sale.allotted - sale.taken,
        per_buyer_limit=sale.per_buyer_limit,
        opens_at=sale.opens_at,
        closes_at=sale.closes_at,
        payment_window_secs=sale.payment_window_secs,
        mode=sale.mode,
        window_ms=sale.window_ms,
        seed_hash=sale.seed_hash,
        phase=rules.phase(terms(sale), taken=sale.taken, now=now).value,
    )


def claim_out(claim: SaleClaim, currency: str) -> ClaimOut:
    unit = Money.from_minor(claim.unit_price_minor, currency)
    return ClaimOut(
        id=claim.id,
        sale_id=claim.sale_id,
        quantity=claim.quantity,
        unit_price=unit.amount,
        total=Money.from_minor(claim.unit_price_minor * claim.quantity, currency).amount,
        currency=currency,
        status=claim.status,
        expires_at=claim.expires_at,
    )


ALLOCATION_GRACE_SECS = 10.0
RECOMPUTE = "livecart verify-allocation {url}"


async def allocation(
    repo: SalesRepository, sale: FlashSale, *, url: str, now: datetime | None = None
) -> AllocationOut:
    """The seed and the log of a fair_window sale once its window has been decided. (If no
    process decided it — nobody asked in the window, or the process died — the seed is
    published a little after the window with an empty log.)"""
    now = now or utcnow()
    if sale.mode != "fair_window" or sale.seed is None or sale.seed_hash is None:
        raise NotFound("allocation", sale_id=sale.id)
    window_ends = as_utc(sale.opens_at) + timedelta(milliseconds=sale.window_ms)
    if sale.allocated_at is None:
        if now < window_ends + timedelta(seconds=ALLOCATION_GRACE_SECS):
            raise AppError(
                "allocation_pending",
                "The fair window has not been decided yet.",
                status=425,
                data={"window_ends": window_ends.isoformat()},
            )
        sale.allocated_at = now
    lots = await repo.lots(sale.id)
    return AllocationOut(
        sale_id=sale.id,
        allotted=sale.allotted,
        per_buyer_limit=sale.per_buyer_limit,
        window_ms=sale.window_ms,
        seed=sale.seed,
        seed_hash=sale.seed_hash,
        entries=[LotOut.model_validate(lot) for lot in lots],
        recompute=RECOMPUTE.format(url=url),
    )
