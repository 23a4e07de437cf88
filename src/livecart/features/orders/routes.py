"""/api/v1: the bag, checkout, my orders, paying, after-sales; the merchant's orders; provider
notifications."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status

from livecart.db.deps import UowDep
from livecart.features.accounts.deps import CurrentUser
from livecart.features.catalog.repository import CatalogRepository
from livecart.features.orders import cart, export, service
from livecart.features.orders.models import Order
from livecart.features.orders.repository import OrdersRepository
from livecart.features.orders.schemas import (
    CartItemIn,
    CartOut,
    CartQuantityIn,
    CheckoutIn,
    OrderOut,
    PayIn,
    PaymentStartOut,
    RefundDecisionIn,
    RefundRequestIn,
    ShipIn,
)
from livecart.features.sales.routes import IdempotencyKey
from livecart.kit.pagination import DEFAULT_LIMIT, MAX_LIMIT, encode_cursor, page_request
from livecart.kit.params import IdPath
from livecart.kit.schemas import ERROR_RESPONSES, Page

router = APIRouter(prefix="/api/v1", tags=["orders"], responses=ERROR_RESPONSES)
StatusFilter = Literal[
    "awaiting_payment",
    "paid",
    "shipped",
    "delivered",
    "completed",
    "cancelled",
    "expired",
    "refunded",
]
RefundFilter = Literal["requested", "approved", "rejected", "refunded"]
REFUND_QUERY = Query(
    None, alias="refund", description="only orders whose latest refund is in this state"
)


def orders_context(request: Request, uow: UowDep) -> service.Orders:
    return service.Orders(
        OrdersRepository(uow.session), request.app.state.payment_provider, uow.after_commit
    )


OrdersDep = Annotated[service.Orders, Depends(orders_context)]


async def _one(ctx: service.Orders, order: Order) -> OrderOut:
    return (await service.orders_out(ctx, [order]))[0]


async def _page(ctx: service.Orders, rows: list[Order], limit: int) -> Page[OrderOut]:
    more = len(rows) > limit
    rows = rows[:limit]
    return Page[OrderOut](
        items=await service.orders_out(ctx, rows),
        next_cursor=encode_cursor(rows[-1].id) if more and rows else None,
    )


# the bag
@router.get("/cart")
async def get_cart(user: CurrentUser, ctx: OrdersDep) -> CartOut:
    return await cart.cart_out(ctx.repo, ctx.catalog, user)


@router.post("/cart/items")
async def add_to_cart(data: CartItemIn, user: CurrentUser, ctx: OrdersDep) -> CartOut:
    """Put units of a variant in the bag, with where the buyer saw it (show, replay time)."""
    await cart.add_to_cart(ctx.repo, ctx.catalog, user, data)
    return await cart.cart_out(ctx.repo, ctx.catalog, user)


@router.patch("/cart/items/{variant_id}")
async def set_cart_quantity(
    variant_id: IdPath, data: CartQuantityIn, user: CurrentUser, ctx: OrdersDep
) -> CartOut:
    await cart.set_quantity(ctx.repo, user, variant_id, data.quantity)
    return await cart.cart_out(ctx.repo, ctx.catalog, user)


@router.post(
    "/checkout",
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "A repeated request: the orders it made the first time"}},
)
async def checkout(
    data: CheckoutIn,
    response: Response,
    user: CurrentUser,
    ctx: OrdersDep,
    idempotency_key: IdempotencyKey,
) -> list[OrderOut]:
    """Order the bag (or `items`): one order per merchant and show, units held until paid or
    expired. 409 `insufficient_stock`; 422 `cart_empty`, `idempotency_key_reused`."""
    orders, created = await cart.checkout(
        ctx.repo, CatalogRepository(ctx.repo.session), user, data, key=idempotency_key
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return await service.orders_out(ctx, orders)


# my orders
@router.get("/orders")
async def my_orders(
    user: CurrentUser,
    ctx: OrdersDep,
    order_status: StatusFilter | None = Query(None, alias="status"),
    refund: RefundFilter | None = REFUND_QUERY,
    cursor: str | None = None,
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> Page[OrderOut]:
    page = page_request(cursor, limit)
    rows = await ctx.repo.page(page, buyer_id=user.id, status=order_status, refund=refund)
    return await _page(ctx, rows, page.limit)


@router.get("/orders/{order_id}")
async def get_order(order_id: IdPath, user: CurrentUser, ctx: OrdersDep) -> OrderOut:
    """The buyer's own order, or one of the merchant's orders for its staff."""
    order = await ctx.repo.order(order_id)
    if order is not None and user.merchant_id is not None and order.merchant_id == user.merchant_id:
        return await _one(ctx, order)
    return await _one(ctx, await service.buyers_order(ctx, user, order_id))


@router.get("/sales/claims/{claim_id}/order")
async def order_of_claim(claim_id: IdPath, user: CurrentUser, ctx: OrdersDep) -> OrderOut:
    """The order a won flash-sale purchase became (the buyer's own)."""
    return await _one(ctx, await service.order_of_claim(ctx, user, claim_id))


@router.post("/orders/{order_id}/pay")
async def pay(order_id: IdPath, data: PayIn, user: CurrentUser, ctx: OrdersDep) -> PaymentStartOut:
    """Open the provider's payment page: go to `pay_url`. The order becomes `paid` when the
    provider's notification arrives. 409 `order_expired` after the payment window."""
    payment = await service.start_payment(ctx, user, order_id, data)
    return PaymentStartOut(
        order_id=order_id, provider=payment.provider, pay_url=payment.pay_url, status=payment.status
    )


@router.post("/orders/{order_id}/cancel")
async def cancel(order_id: IdPath, user: CurrentUser, ctx: OrdersDep) -> OrderOut:
    return await _one(ctx, await service.cancel(ctx, user, order_id))


@router.post("/orders/{order_id}/confirm-receipt")
async def confirm_receipt(order_id: IdPath, user: CurrentUser, ctx: OrdersDep) -> OrderOut:
    return await _one(ctx, await service.complete(ctx, user, order_id))


@router.post("/orders/{order_id}/refund-request", status_code=status.HTTP_201_CREATED)
async def request_refund(
    order_id: IdPath, data: RefundRequestIn, user: CurrentUser, ctx: OrdersDep
) -> OrderOut:
    await service.request_refund(ctx, user, order_id, data)
    return await _one(ctx, await service.buyers_order(ctx, user, order_id))


# the merchant's orders
@router.get("/merchants/me/orders")
async def merchant_orders(
    user: CurrentUser,
    ctx: OrdersDep,
    order_status: StatusFilter | None = Query(None, alias="status"),
    show_id: int | None = Query(None, ge=1, le=2**63 - 1),
    refund: RefundFilter | None = REFUND_QUERY,
    cursor: str | None = None,
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> Page[OrderOut]:
    merchant_id = service.merchant_of(user)
    page = page_request(cursor, limit)
    rows = await ctx.repo.page(
        page, merchant_id=merchant_id, status=order_status, show_id=show_id, refund=refund
    )
    return await _page(ctx, rows, page.limit)


@router.get(
    "/merchants/me/orders.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "UTF-8 with BOM"}},
)
async def merchant_orders_csv(
    user: CurrentUser,
    ctx: OrdersDep,
    order_status: StatusFilter | None = Query(None, alias="status"),
    show_id: int | None = Query(None, ge=1, le=2**63 - 1),
) -> Response:
    """Every matching order (newest first, at most 20,000) as CSV that Excel opens with Chinese
    text intact."""
    merchant_id = service.merchant_of(user)
    text = await export.orders_csv(ctx, merchant_id, status=order_status, show_id=show_id)
    return Response(
        content=text.encode("utf-8-sig"),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="orders.csv"'},
    )


@router.post("/merchants/me/orders/{order_id}/ship")
async def ship(order_id: IdPath, data: ShipIn, user: CurrentUser, ctx: OrdersDep) -> OrderOut:
    return await _one(ctx, await service.ship(ctx, user, order_id, data))


@router.post("/merchants/me/orders/{order_id}/deliver")
async def deliver(order_id: IdPath, user: CurrentUser, ctx: OrdersDep) -> OrderOut:
    return await _one(ctx, await service.deliver(ctx, user, order_id))


@router.post("/merchants/me/orders/{order_id}/refund-decision")
async def decide_refund(
    order_id: IdPath, data: RefundDecisionIn, user: CurrentUser, ctx: OrdersDep
) -> OrderOut:
    """Approve (the provider pays back; the order becomes `refunded` when it confirms, and the
    units go back on sale if `restock`) or reject a refund request."""
    await service.decide_refund(ctx, user, order_id, data)
    return await _one(ctx, await service.merchants_order(ctx, user, order_id))


# the provider's notifications
@router.post("/payments/sandbox/webhook")
async def sandbox_webhook(request: Request, ctx: OrdersDep) -> dict[str, str]:
    """Signed notifications from the sandbox provider (`X-Sandbox-Signature`). Handled once per
    event id; 400 `bad_signature` for a forged or stale one."""
    body = await request.body()
    outcome = await service.handle_notification(ctx, request.headers, body)
    return {"outcome": outcome}
