"""Flash sales: open one with a link drop, buy through the gate, expire unpaid claims.

The embedded gate. A loser is answered from a per-process sold-out flag without touching the
database once stock is gone. A winner's purchase is one transaction of conditional statements:
the claim is inserted first (its unique request key makes a repeated request find the first
answer), then units are taken from the sale and from the buyer's allowance only if they stay
within bounds; any refusal rolls the whole transaction back. CHECK constraints on both counters
make overselling impossible even if this code were wrong. Services never commit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from livecart.errors import AppError, NotFound, Unauthorized
from livecart.features.accounts.models import User
from livecart.features.catalog.models import Variant
from livecart.features.rooms import service as rooms
from livecart.features.sales import rules
from livecart.features.sales.models import FlashSale, SaleClaim
from livecart.features.sales.repository import SalesRepository
from livecart.features.sales.schemas import ClaimOut, SaleIn, SaleOut
from livecart.kit.clock import as_utc, utcnow
from livecart.kit.money import Money
from livecart.realtime import events as ev

EXPIRY_BATCH = 500


# Called in the winner's transaction, after its claim is saved: the orders feature makes the
# order here, so a claim never exists without its order.
OnWon = Callable[[AsyncSession, SaleClaim, FlashSale], Awaitable[None]]


class SaleGate:
    """Per-process state of the embedded gate: which sales are known to be sold out."""

    def __init__(self, on_won: OnWon | None = None) -> None:
        self.sold_out: set[int] = set()
        self.on_won = on_won


def terms(sale: FlashSale) -> rules.SaleTerms:
    return rules.SaleTerms(
        sale.allotted, sale.per_buyer_limit, as_utc(sale.opens_at), as_utc(sale.closes_at)
    )


def _refused(exc: rules.SaleRefusal) -> AppError:
    return AppError(exc.code, str(exc), status=exc.status)


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
        by_user_id=staff.id,
    )
    ctx.rooms.session.add(sale)
    await ctx.rooms.session.flush()
    gate.sold_out.discard(sale.id)  # SQLite may hand out the id of a deleted row again
    offer = ev.SaleOffer(
        sale_id=sale.id,
        variant_id=variant.id,
        price=str(price.amount),
        units=sale.allotted,
        per_buyer_limit=sale.per_buyer_limit,
        closes_at=int(sale.closes_at.timestamp() * 1000),
    )
    dropped = await rooms.drop(ctx, m, product.id, data.countdown_ms, now=now, sale=offer)
    sale.drop_id = dropped.drop_id
    return sale


async def purchase(
    repo: SalesRepository,
    gate: SaleGate,
    buyer: User | None,
    sale_id: int,
    *,
    quantity: int,
    key: str,
    now: datetime | None = None,
) -> tuple[SaleClaim, bool]:
    """Buy through the gate. Returns the claim and whether this request created it (False: a
    repeat of an earlier request with the same key, answered as the first time)."""
    if buyer is None:
        raise Unauthorized("Log in to buy.")
    now = now or utcnow()
    earlier = await repo.claim_for(sale_id, buyer.id, key)
    if earlier is not None:
        return _same_request(earlier, quantity), False
    if sale_id in gate.sold_out:
        raise AppError("sold_out", "Sold out.", status=409)
    sale = await repo.sale(sale_id)
    if sale is None:
        raise NotFound("sale", sale_id=sale_id)
    try:
        rules.check_attempt(terms(sale), quantity=quantity, now=now)
    except rules.SaleRefusal as exc:
        raise _refused(exc) from exc
    claim = SaleClaim(
        sale_id=sale.id,
        buyer_id=buyer.id,
        idempotency_key=key,
        quantity=quantity,
        unit_price_minor=sale.price_minor,
        status="awaiting_payment",
        expires_at=now + timedelta(seconds=sale.payment_window_secs),
        created_at=now,
    )
    if not await repo.insert_claim(claim):  # the same request, a moment earlier, got there first
        earlier = await repo.claim_for(sale_id, buyer.id, key)
        assert earlier is not None
        return _same_request(earlier, quantity), False
    taken = await repo.take_units(sale.id, quantity)
    if taken is None:
        left = await repo.units_left(sale.id)
        if left == 0:  # remember it: later losers need not reach the database
            gate.sold_out.add(sale.id)
        raise AppError(
            "sold_out",
            "Sold out." if left == 0 else f"Only {left} left.",
            status=409,
            data={"left": left},
        )
    if not await repo.take_for_buyer(sale.id, buyer.id, quantity, sale.per_buyer_limit):
        raise AppError(
            "buyer_limit_reached",
            f"Each buyer may take at most {sale.per_buyer_limit}.",
            status=409,
        )
    if taken >= sale.allotted:
        gate.sold_out.add(sale.id)
    stored = await repo.claim_for(sale_id, buyer.id, key)
    assert stored is not None
    if gate.on_won is not None:
        await gate.on_won(repo.session, stored, sale)
    return stored, True


def _same_request(earlier: SaleClaim, quantity: int) -> SaleClaim:
    if earlier.quantity != quantity:
        raise AppError(
            "idempotency_key_reused",
            "This idempotency key was used for a different request.",
            status=422,
        )
    return earlier


async def expire_overdue(
    repo: SalesRepository, gate: SaleGate, *, now: datetime | None = None
) -> dict[int, int]:
    """Expire unpaid claims past their deadline and give their units back to the sale and to
    the buyer's allowance. Returns the units returned per sale."""
    now = now or utcnow()
    returned: dict[int, int] = {}
    for claim in await repo.overdue_claims(now, EXPIRY_BATCH):
        claim.status = "expired"
        await repo.give_back(claim)
        returned[claim.sale_id] = returned.get(claim.sale_id, 0) + claim.quantity
        gate.sold_out.discard(claim.sale_id)
    await repo.session.flush()
    return returned


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
