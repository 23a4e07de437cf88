"""The bag and checkout: lines with where they were added, one order per merchant and show.

Checkout holds the units at once (through `change_stock`, the only writer of stock) and the order
waits for payment; an unpaid order expires and gives them back. A flash sale's winner gets its
order from the gate, in the same transaction as the claim (`order_for_claim`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from livecart.errors import AppError, NotFound
from livecart.features.accounts.models import User
from livecart.features.catalog import service as catalog
from livecart.features.catalog.models import Product, Variant
from livecart.features.catalog.repository import CatalogRepository
from livecart.features.orders.models import CartItem, Order, OrderItem
from livecart.features.orders.repository import (
    SALE_ORDERS_PG,
    SALE_ORDERS_SQLITE,
    SALE_ORDERS_UNMATCHED,
    OrdersRepository,
)
from livecart.features.orders.schemas import (
    MAX_QUANTITY,
    CartItemIn,
    CartLineOut,
    CartOut,
    CheckoutIn,
)
from livecart.features.sales.writer import WonHook
from livecart.features.shows.models import Show
from livecart.kit.clock import utcnow
from livecart.kit.money import Money
from livecart.kit.storage import current_storage

MAX_CART_LINES = 50
CHECKOUT_PAYMENT_WINDOW = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class Line:
    variant_id: int
    quantity: int
    source: str
    show_id: int | None
    video_time_ms: int | None


async def _buyable(catalog_repo: CatalogRepository, variant_id: int) -> tuple[Variant, Product]:
    variant = await catalog_repo.variant(variant_id)
    if variant is None or variant.archived:
        raise NotFound("variant", variant_id=variant_id)
    product = await catalog_repo.product(variant.product_id)
    if product is None or product.archived:
        raise NotFound("variant", variant_id=variant_id)
    return variant, product


async def _show(repo: OrdersRepository, show_id: int | None) -> Show | None:
    if show_id is None:
        return None
    show = await repo.session.get(Show, show_id)
    if show is None:
        raise NotFound("show", show_id=show_id)
    return show


async def add_to_cart(
    repo: OrdersRepository, catalog_repo: CatalogRepository, buyer: User, data: CartItemIn
) -> CartItem:
    """Add units of a variant; adding it again adds up and takes the newest attribution."""
    await _buyable(catalog_repo, data.variant_id)
    await _show(repo, data.show_id)
    item = await repo.cart_item(buyer.id, data.variant_id)
    if item is None:
        if await repo.cart_size(buyer.id) >= MAX_CART_LINES:
            raise AppError("cart_full", f"A bag holds at most {MAX_CART_LINES} lines.", status=409)
        item = CartItem(buyer_id=buyer.id, variant_id=data.variant_id, quantity=0)
        repo.session.add(item)
    item.quantity = min(MAX_QUANTITY, item.quantity + data.quantity)
    item.source, item.show_id, item.video_time_ms = data.source, data.show_id, data.video_time_ms
    await repo.session.flush()
    return item


async def set_quantity(repo: OrdersRepository, buyer: User, variant_id: int, quantity: int) -> None:
    item = await repo.cart_item(buyer.id, variant_id)
    if item is None:
        raise NotFound("cart_line", variant_id=variant_id)
    if quantity == 0:
        await repo.session.delete(item)
    else:
        item.quantity = quantity
    await repo.session.flush()


async def cart_out(repo: OrdersRepository, catalog_repo: CatalogRepository, buyer: User) -> CartOut:
    items = await repo.cart(buyer.id)
    variants = {i.variant_id: await catalog_repo.variant(i.variant_id) for i in items}
    products = {
        p.id: p
        for p in await catalog_repo.products_by_ids(
            sorted({v.product_id for v in variants.values() if v is not None})
        )
    }
    lines: list[CartLineOut] = []
    totals: dict[str, Money] = {}
    for item in items:
        variant = variants[item.variant_id]
        if variant is None:
            continue
        product = products[variant.product_id]
        price = Money.from_minor(variant.price_minor, product.currency)
        image = product.images[0].storage_key if product.images else None
        lines.append(
            CartLineOut(
                variant_id=variant.id,
                product_id=product.id,
                merchant_id=product.merchant_id,
                title=product.title,
                options=variant.options,
                quantity=item.quantity,
                unit_price=price.amount,
                currency=product.currency,
                stock=variant.stock,
                image_url=current_storage().url(image),
                source=item.source,
                show_id=item.show_id,
                video_time_ms=item.video_time_ms,
            )
        )
        line_total = Money.from_minor(price.minor * item.quantity, product.currency)
        before = totals.get(product.currency)
        totals[product.currency] = line_total if before is None else before + line_total
    return CartOut(lines=lines, totals={c: m.amount for c, m in totals.items()})


def request_hash(data: CheckoutIn) -> str:
    """What the buyer asked for: a repeat with the same key must ask for the same."""
    return hashlib.sha256(data.model_dump_json().encode()).hexdigest()


async def checkout(
    repo: OrdersRepository,
    catalog_repo: CatalogRepository,
    buyer: User,
    data: CheckoutIn,
    *,
    key: str,
    now: datetime | None = None,
) -> tuple[list[Order], bool]:
    """Order the bag (or the given items). Returns the orders and whether this request made them
    (False: a repeat with the same Idempotency-Key, answered as the first time)."""
    now = now or utcnow()
    digest = request_hash(data)
    earlier = await repo.orders_for_request(buyer.id, f"co:{key}:")
    if earlier:
        if earlier[0].request_hash != digest:
            raise AppError(
                "idempotency_key_reused",
                "This idempotency key was used for a different request.",
                status=422,
            )
        return earlier, False
    from_cart = data.items is None
    if data.items is not None:
        lines = [
            Line(i.variant_id, i.quantity, i.source, i.show_id, i.video_time_ms) for i in data.items
        ]
    else:
        lines = [
            Line(i.variant_id, i.quantity, i.source, i.show_id, i.video_time_ms)
            for i in await repo.cart(buyer.id)
        ]
    if not lines:
        raise AppError("cart_empty", "The bag is empty.", status=422)
    if len({ln.variant_id for ln in lines}) != len(lines):
        raise AppError("duplicate_variant", "Each variant may appear once.", status=422)
    groups: dict[tuple[int, int | None, str], list[tuple[Line, Variant, Product]]] = {}
    for line in lines:
        variant, product = await _buyable(catalog_repo, line.variant_id)
        groups.setdefault((product.merchant_id, line.show_id, line.source), []).append(
            (line, variant, product)
        )
    orders: list[Order] = []
    for n, ((merchant_id, show_id, source), group) in enumerate(groups.items()):
        show = await _show(repo, show_id)
        items: list[OrderItem] = []
        for line, variant, product in group:
            await catalog.change_stock(
                catalog_repo, variant, -line.quantity, reason="order", actor=buyer
            )
            items.append(
                OrderItem(
                    product_id=product.id,
                    variant_id=variant.id,
                    title=product.title,
                    options=dict(variant.options),
                    quantity=line.quantity,
                    unit_price_minor=variant.price_minor,
                )
            )
        currency = group[0][2].currency
        if any(p.currency != currency for _, _, p in group):
            raise AppError("mixed_currency", "One order cannot mix currencies.", status=422)
        order = Order(
            buyer_id=buyer.id,
            merchant_id=merchant_id,
            request_key=f"co:{key}:{n}",
            request_hash=digest,
            show_id=show_id,
            host_id=show.host_id if show else None,
            source=source,
            video_time_ms=group[0][0].video_time_ms,
            currency=currency,
            total_minor=sum(i.unit_price_minor * i.quantity for i in items),
            status="awaiting_payment",
            expires_at=now + CHECKOUT_PAYMENT_WINDOW,
            ship_to=data.ship_to.model_dump(),
            created_at=now,
        )
        await repo.add_order(order, items)
        orders.append(order)
    if from_cart:
        await repo.clear_cart(buyer.id, [ln.variant_id for ln in lines])
    return orders, True


# The sales writer writes every batch of winners with their orders: in its one PostgreSQL
# statement, or in its SQLite transaction.
SALE_ORDERS = WonHook(
    after_pg=SALE_ORDERS_PG,
    statements_sqlite=SALE_ORDERS_SQLITE,
    unmatched_sql=SALE_ORDERS_UNMATCHED,
)
