"""An order's life after checkout: payment, notifications, shipping, after-sales, expiry.

Every state change is a conditional UPDATE from the state the caller saw (`repo.move`), so the
expiry job and a late payment notification, or two merchant clicks, cannot both win. Calls to the
payment provider are made outside the shop's transaction (after commit, or before any write),
as they would be to a real provider over the network.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from livecart.errors import AppError, Forbidden, NotFound
from livecart.features.accounts.models import Role, User
from livecart.features.catalog import service as catalog
from livecart.features.catalog.repository import CatalogRepository
from livecart.features.orders import payments, rules
from livecart.features.orders.models import Order, OrderItem, Payment, Refund
from livecart.features.orders.repository import OrdersRepository
from livecart.features.orders.rules import Action
from livecart.features.orders.schemas import (
    OrderItemOut,
    OrderOut,
    PayIn,
    RefundDecisionIn,
    RefundOut,
    RefundRequestIn,
    ShipIn,
)
from livecart.features.sales.models import SaleClaim
from livecart.features.sales.repository import SalesRepository
from livecart.kit.clock import utcnow
from livecart.kit.money import Money
from livecart.kit.storage import current_storage

log = logging.getLogger(__name__)
EXPIRY_BATCH = 500
REFUND_RETRY_AFTER = timedelta(seconds=10)
AfterCommit = Callable[[Callable[[], Awaitable[None]]], None]


@dataclass
class Orders:
    """What order operations work with: the session's repositories, the provider, and the unit
    of work's after-commit hook (for provider calls that must wait for our commit)."""

    repo: OrdersRepository
    provider: payments.PaymentProvider
    after_commit: AfterCommit

    @property
    def catalog(self) -> CatalogRepository:
        return CatalogRepository(self.repo.session)


def _fail(exc: rules.OrderRuleError) -> AppError:
    return AppError(exc.code, str(exc), status=exc.status)


async def buyers_order(ctx: Orders, buyer: User, order_id: int) -> Order:
    """The order if it is the buyer's; someone else's is 404, as if it did not exist."""
    order = await ctx.repo.order(order_id)
    if order is None or order.buyer_id != buyer.id:
        raise NotFound("order", order_id=order_id)
    return order


async def order_of_claim(ctx: Orders, buyer: User, claim_id: int) -> Order:
    """The order the buyer's won flash-sale claim became. On PostgreSQL it is written just
    after the winner is answered (or, after a crash, by the sweep): one not there yet is
    written now. Someone else's claim is 404, as if it did not exist."""
    order = await ctx.repo.order_of_claim(claim_id)
    if order is None:
        claim = await ctx.repo.session.get(SaleClaim, claim_id)
        if claim is not None and claim.buyer_id == buyer.id:
            await ctx.repo.write_sale_orders([claim_id])
            order = await ctx.repo.order_of_claim(claim_id)
    if order is None or order.buyer_id != buyer.id:
        raise NotFound("order", claim_id=claim_id)
    return order


def merchant_of(user: User) -> int:
    if user.role != Role.MERCHANT_STAFF.value or user.merchant_id is None:
        raise Forbidden("Only a merchant's staff can do this.", code="merchant_required")
    return user.merchant_id


async def merchants_order(ctx: Orders, user: User, order_id: int) -> Order:
    merchant_id = merchant_of(user)
    order = await ctx.repo.order(order_id)
    if order is None or order.merchant_id != merchant_id:
        raise NotFound("order", order_id=order_id)
    return order


async def _step(
    ctx: Orders, order: Order, action: Action, *, now: datetime, **values: object
) -> None:
    try:
        new = rules.next_state(order.status, action)
    except rules.OrderRuleError as exc:
        raise _fail(exc) from exc
    if not await ctx.repo.move(order.id, old=order.status, new=new.value, **values):
        raise AppError("order_changed", "The order changed meanwhile; reload it.", status=409)
    await ctx.repo.session.refresh(order)


# payment
async def start_payment(
    ctx: Orders, buyer: User, order_id: int, data: PayIn, *, now: datetime | None = None
) -> Payment:
    """Open (or reopen) the provider's payment page for an order awaiting payment."""
    now = now or utcnow()
    order = await buyers_order(ctx, buyer, order_id)
    if order.status != rules.OrderState.AWAITING_PAYMENT:
        raise AppError(
            "order_state", f"An order that is {order.status} cannot be paid.", status=409
        )
    if order.expires_at is not None and order.expires_at <= now:
        raise AppError("order_expired", "The time to pay this order has passed.", status=409)
    if order.ship_to is None and data.ship_to is None:
        raise AppError("ship_to_required", "Where should it be sent?", status=422)
    pending = (await ctx.repo.payments_of([order.id])).get(order.id)
    if pending is not None and pending.status == "pending":
        if data.ship_to is not None:
            order.ship_to = data.ship_to.model_dump()
        return pending
    # The provider is called before this transaction writes anything (SQLite has one writer).
    checkout = await ctx.provider.create_checkout(
        merchant_ref=f"order-{order.id}",
        amount_minor=order.total_minor,
        currency=order.currency,
        return_url=f"/orders/{order.id}",
    )
    if data.ship_to is not None:
        order.ship_to = data.ship_to.model_dump()
    payment = Payment(
        order_id=order.id,
        provider=ctx.provider.name,
        provider_ref=checkout.provider_ref,
        amount_minor=order.total_minor,
        currency=order.currency,
        status="pending",
        pay_url=checkout.pay_url,
    )
    ctx.repo.session.add(payment)
    await ctx.repo.session.flush()
    return payment


async def handle_notification(
    ctx: Orders, headers: Mapping[str, str], body: bytes, *, now: datetime | None = None
) -> str:
    """A provider notification: verified, handled once per event id, in any order. Returns what
    was done. Raises 400 for a forged or stale one, 409 (the provider retries) for a payment we
    have not saved yet."""
    now = now or utcnow()
    try:
        event = ctx.provider.parse_webhook(headers, body)
    except payments.BadWebhook as exc:
        log.warning("refused a %s notification: %s", ctx.provider.name, exc)
        raise AppError(
            "bad_signature", "The notification could not be verified.", status=400
        ) from None
    payment = await ctx.repo.payment_by_ref(ctx.provider.name, event.provider_ref)
    if payment is None:
        raise AppError("payment_unknown", "No such payment yet; send it again later.", status=409)
    if event.amount_minor != payment.amount_minor or event.currency != payment.currency:
        log.error("notification %s does not match payment %s", event.event_id, payment.id)
        raise AppError("amount_mismatch", "The amount does not match the payment.", status=400)
    if not await ctx.repo.first_time(ctx.provider.name, event.event_id, event.kind):
        return "duplicate"
    if event.kind == "payment.succeeded":
        return await _paid(ctx, payment, now)
    if event.kind == "payment.failed":
        moved = await ctx.repo.move_payment(payment.id, old=["pending"], new="failed")
        return "failed" if moved else "ignored"
    return await _refunded(ctx, payment, now)


async def _paid(ctx: Orders, payment: Payment, now: datetime) -> str:
    if not await ctx.repo.move_payment(payment.id, old=["pending", "failed"], new="succeeded"):
        return "ignored"  # already succeeded, or being refunded: nothing new
    order = await ctx.repo.order(payment.order_id)
    assert order is not None
    if await ctx.repo.move(order.id, old="awaiting_payment", new="paid", paid_at=now):
        if order.claim_id is not None:
            claim = await ctx.repo.session.get(SaleClaim, order.claim_id)
            if claim is not None:
                claim.status = "paid"
        return "paid"
    # The order expired, was cancelled or was already paid by another payment: pay it back.
    await ctx.repo.move_payment(payment.id, old=["succeeded"], new="refunding")
    _refund_after_commit(ctx, payment)
    return "refunding_late_payment"


async def _refunded(ctx: Orders, payment: Payment, now: datetime) -> str:
    if not await ctx.repo.move_payment(payment.id, old=["refunding", "succeeded"], new="refunded"):
        return "ignored"
    refund = await ctx.repo.open_refund(payment.order_id)
    if refund is None or refund.status != "approved":
        return "refunded_payment"  # a late or duplicate payment paid back; the order is as it was
    order = await ctx.repo.order(payment.order_id)
    assert order is not None
    refund.status = "refunded"
    if not await ctx.repo.move(order.id, old=order.status, new="refunded", closed_at=now):
        raise AppError("order_changed", "The order changed meanwhile.", status=409)
    if refund.restock:
        await _restock(ctx, order, reason="refund_restock")
    return "refunded"


def _refund_after_commit(ctx: Orders, payment: Payment) -> None:
    provider, ref, amount = ctx.provider, payment.provider_ref, payment.amount_minor

    async def ask() -> None:
        await provider.refund(provider_ref=ref, amount_minor=amount)

    ctx.after_commit(ask)


async def _restock(ctx: Orders, order: Order, *, reason: str) -> None:
    items = (await ctx.repo.items([order.id]))[order.id]
    for item in items:
        variant = await ctx.catalog.variant(item.variant_id)
        if variant is not None:
            await catalog.change_stock(
                ctx.catalog, variant, item.quantity, reason=reason, actor=None
            )


# fulfilment
async def ship(
    ctx: Orders, user: User, order_id: int, data: ShipIn, *, now: datetime | None = None
) -> Order:
    now = now or utcnow()
    order = await merchants_order(ctx, user, order_id)
    if await ctx.repo.open_refund(order.id) is not None:
        raise AppError("refund_open", "Decide the buyer's refund request first.", status=409)
    await _step(
        ctx,
        order,
        Action.SHIP,
        now=now,
        shipped_at=now,
        carrier=data.carrier,
        tracking_number=data.tracking_number,
    )
    return order


async def deliver(ctx: Orders, user: User, order_id: int, *, now: datetime | None = None) -> Order:
    now = now or utcnow()
    order = await merchants_order(ctx, user, order_id)
    await _step(ctx, order, Action.DELIVER, now=now, delivered_at=now)
    return order


async def complete(
    ctx: Orders, buyer: User, order_id: int, *, now: datetime | None = None
) -> Order:
    """The buyer confirms receipt."""
    now = now or utcnow()
    order = await buyers_order(ctx, buyer, order_id)
    await _step(ctx, order, Action.COMPLETE, now=now, completed_at=now)
    return order


async def cancel(ctx: Orders, buyer: User, order_id: int, *, now: datetime | None = None) -> Order:
    """The buyer gives up an unpaid order; its units go back at once."""
    now = now or utcnow()
    order = await buyers_order(ctx, buyer, order_id)
    await _step(ctx, order, Action.CANCEL, now=now, closed_at=now)
    await _release(ctx, order)
    return order


async def _release(ctx: Orders, order: Order) -> None:
    """Give an unpaid order's units back: to its flash sale, or to the variant's stock."""
    if order.claim_id is not None:
        sales = SalesRepository(ctx.repo.session)
        status = "expired" if order.status == "expired" else "cancelled"
        claim = await ctx.repo.session.get(SaleClaim, order.claim_id)
        if claim is not None and await sales.end_claim(claim.id, status):
            await sales.give_back(claim)
        return
    await _restock(ctx, order, reason=f"order_{order.status}")


async def expire_overdue(ctx: Orders, *, now: datetime | None = None) -> list[Order]:
    """Expire unpaid orders past their deadline and give their units back."""
    now = now or utcnow()
    expired: list[Order] = []
    for order in await ctx.repo.overdue(now, EXPIRY_BATCH):
        if await ctx.repo.move(order.id, old="awaiting_payment", new="expired", closed_at=now):
            await ctx.repo.session.refresh(order)
            await _release(ctx, order)
            expired.append(order)
    await ctx.repo.session.flush()
    return expired


# after-sales
async def request_refund(
    ctx: Orders, buyer: User, order_id: int, data: RefundRequestIn, *, now: datetime | None = None
) -> Refund:
    order = await buyers_order(ctx, buyer, order_id)
    try:
        rules.may_request_refund(
            order.status, open_refund=await ctx.repo.open_refund(order.id) is not None
        )
    except rules.OrderRuleError as exc:
        raise _fail(exc) from exc
    refund = Refund(
        order_id=order.id,
        reason=data.reason,
        status="requested",
        amount_minor=order.total_minor,
        created_at=now or utcnow(),
    )
    ctx.repo.session.add(refund)
    await ctx.repo.session.flush()
    return refund


async def decide_refund(
    ctx: Orders,
    user: User,
    order_id: int,
    data: RefundDecisionIn,
    *,
    now: datetime | None = None,
) -> Refund:
    """The merchant approves (the provider pays back; the order ends `refunded` when it
    confirms) or rejects (the order goes on as it was)."""
    now = now or utcnow()
    order = await merchants_order(ctx, user, order_id)
    refund = await ctx.repo.open_refund(order.id)
    if refund is None or refund.status != "requested":
        raise AppError("no_refund_request", "There is no refund request to decide.", status=409)
    refund.decided_by, refund.decided_at, refund.note = user.id, now, data.note
    if not data.approve:
        refund.status = "rejected"
        return refund
    payment = (await ctx.repo.payments_of([order.id])).get(order.id)
    if payment is None or payment.status != "succeeded":
        raise AppError("not_paid", "There is no successful payment to refund.", status=409)
    refund.status, refund.restock = "approved", data.restock
    refund.provider_ref = payment.provider_ref
    await ctx.repo.move_payment(payment.id, old=["succeeded"], new="refunding")
    _refund_after_commit(ctx, payment)
    await ctx.repo.session.flush()
    return refund


async def refunds_to_retry(ctx: Orders, *, now: datetime | None = None) -> list[tuple[str, int]]:
    """Payments still being refunded a while after we asked (the call may have failed)."""
    now = now or utcnow()
    rows = await ctx.repo.payments_to_refund(now - REFUND_RETRY_AFTER, 100)
    return [(p.provider_ref, p.amount_minor) for p in rows]


# views
async def orders_out(ctx: Orders, orders: list[Order]) -> list[OrderOut]:
    ids = [o.id for o in orders]
    items = await ctx.repo.items(ids)
    pays = await ctx.repo.payments_of(ids)
    refunds = await ctx.repo.refunds_of(ids)
    images = await ctx.repo.first_images(sorted({i.product_id for v in items.values() for i in v}))
    shops = await ctx.repo.shop_names(sorted({o.merchant_id for o in orders}))
    return [
        _order_out(
            o, items[o.id], pays.get(o.id), refunds.get(o.id), images, shops.get(o.merchant_id)
        )
        for o in orders
    ]


def _money(minor: int, currency: str) -> Money:
    return Money.from_minor(minor, currency)


def _order_out(
    order: Order,
    items: list[OrderItem],
    payment: Payment | None,
    refund: Refund | None,
    images: dict[int, str],
    shop: str | None,
) -> OrderOut:
    return OrderOut(
        id=order.id,
        buyer_id=order.buyer_id,
        merchant_id=order.merchant_id,
        merchant_name=shop,
        status=order.status,
        source=order.source,
        show_id=order.show_id,
        host_id=order.host_id,
        video_time_ms=order.video_time_ms,
        sale_id=order.sale_id,
        currency=order.currency,
        total=_money(order.total_minor, order.currency).amount,
        items=[
            OrderItemOut(
                product_id=i.product_id,
                variant_id=i.variant_id,
                title=i.title,
                options=i.options,
                quantity=i.quantity,
                unit_price=_money(i.unit_price_minor, order.currency).amount,
                image_url=current_storage().url(images.get(i.product_id)),
            )
            for i in items
        ],
        ship_to=order.ship_to,
        carrier=order.carrier,
        tracking_number=order.tracking_number,
        expires_at=order.expires_at,
        created_at=order.created_at,
        paid_at=order.paid_at,
        shipped_at=order.shipped_at,
        delivered_at=order.delivered_at,
        completed_at=order.completed_at,
        payment_status=payment.status if payment else None,
        refund=(
            RefundOut(
                id=refund.id,
                status=refund.status,
                reason=refund.reason,
                amount=_money(refund.amount_minor, order.currency).amount,
                restock=refund.restock,
                note=refund.note,
                created_at=refund.created_at,
                decided_at=refund.decided_at,
            )
            if refund
            else None
        ),
    )
