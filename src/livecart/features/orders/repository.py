"""Every query of the orders feature. State changes are conditional UPDATEs on the state the
caller saw, so two actors racing (the expiry job and a payment notification, say) cannot both
win."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, exists, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from livecart.db.inserts import insert_if_absent
from livecart.features.accounts.models import Merchant
from livecart.features.catalog.models import Product, ProductImage, Variant
from livecart.features.orders.models import (
    CartItem,
    Order,
    OrderItem,
    Payment,
    PaymentEvent,
    Refund,
)
from livecart.features.sales.models import FlashSale
from livecart.features.shows.models import Show
from livecart.kit.pagination import PageRequest

# The orders of a flash sale's winners: one order and one line per claim, from the sale's
# variant, product and show. On SQLite they are statements of the winners' transaction (after the
# claims; their one parameter is the highest claim id before the batch): they commit with the
# claims or not at all. On PostgreSQL they are one statement for a list of claims (`:ids`) that
# the sales writer runs once the winners' commit has been answered (ADR 0003, "orders after the
# answer"), and that the sweep (`write_missing_sale_orders`) and the claim's order page run for
# any claim a crash left without its order. It writes nothing twice: a claim that has its order
# is skipped.
_INSERT_ORDERS = """
  INSERT INTO orders (claim_id, buyer_id, merchant_id, request_key, show_id, host_id, source,
                      sale_id, currency, total_minor, status, expires_at, created_at, updated_at)
  SELECT c.id, c.buyer_id, p.merchant_id, 'sale:' || c.id, s.show_id, sh.host_id, 'live', s.id,
         s.currency, c.unit_price_minor * c.quantity, 'awaiting_payment', c.expires_at,
         c.created_at, c.created_at
  FROM {claims} AS c
  JOIN flash_sales AS s ON s.id = c.sale_id
  JOIN variants AS v ON v.id = s.variant_id
  JOIN products AS p ON p.id = v.product_id
  LEFT JOIN shows AS sh ON sh.id = s.show_id{where}"""
_INSERT_ITEMS = """
  INSERT INTO order_items (order_id, product_id, variant_id, title, options, quantity,
                           unit_price_minor)
  SELECT o.id, p.id, v.id, p.title, v.options, c.quantity, c.unit_price_minor
  FROM {orders} AS o
  JOIN {claims} AS c ON c.id = o.claim_id
  JOIN flash_sales AS s ON s.id = c.sale_id
  JOIN variants AS v ON v.id = s.variant_id
  JOIN products AS p ON p.id = v.product_id{where}"""
SALE_ORDERS_PG = (
    "WITH claims AS (\n  SELECT c.* FROM sale_claims AS c\n"  # noqa: S608 - our fixed SQL, no input
    "  WHERE c.id = ANY(CAST(:ids AS bigint[]))\n"
    "    AND NOT EXISTS (SELECT 1 FROM orders AS o WHERE o.claim_id = c.id)\n"
    "), sale_orders AS ("
    + _INSERT_ORDERS.format(claims="claims", where="")
    + "\n  ON CONFLICT DO NOTHING\n  RETURNING id, claim_id\n), sale_order_items AS ("
    + _INSERT_ITEMS.format(orders="sale_orders", claims="claims", where="")
    + "\n)\nSELECT count(*) FROM sale_orders"
)
# Claims still awaiting payment without their order, made before `:before` (PostgreSQL).
_ORPHAN_CLAIMS = """
SELECT c.id FROM sale_claims AS c
WHERE c.status = 'awaiting_payment' AND c.created_at < :before
  AND NOT EXISTS (SELECT 1 FROM orders AS o WHERE o.claim_id = c.id)
ORDER BY c.id LIMIT :limit
"""
_BATCH = "\n  WHERE c.id > ?"
SALE_ORDERS_SQLITE = (
    _INSERT_ORDERS.format(claims="sale_claims", where=_BATCH),
    _INSERT_ITEMS.format(orders="orders", claims="sale_claims", where=_BATCH),
)
# For the reconciler: a sale's claims without their order, its orders without their claim or
# without a line (the tables have no foreign keys: ADR 0004).
SALE_ORDERS_UNMATCHED = """
SELECT
  (SELECT count(*) FROM sale_claims AS c WHERE c.sale_id = :sale_id
     AND NOT EXISTS (SELECT 1 FROM orders AS o WHERE o.claim_id = c.id)) AS claims_without_order,
  (SELECT count(*) FROM orders AS o WHERE o.sale_id = :sale_id
     AND NOT EXISTS (SELECT 1 FROM sale_claims AS c WHERE c.id = o.claim_id))
    AS orders_without_claim,
  (SELECT count(*) FROM orders AS o WHERE o.sale_id = :sale_id
     AND NOT EXISTS (SELECT 1 FROM order_items AS i WHERE i.order_id = o.id))
    AS orders_without_items
"""


def latest_refunds(status: str) -> Select[int]:
    """Ids of orders whose latest refund is in `status` (a rejected one may be asked again)."""
    later = aliased(Refund)
    return select(Refund.order_id).where(
        Refund.status == status,
        ~exists().where(later.order_id == Refund.order_id, later.id > Refund.id),
    )


class OrdersRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # cart
    async def cart(self, buyer_id: int) -> list[CartItem]:
        rows = await self.session.scalars(
            select(CartItem).where(CartItem.buyer_id == buyer_id).order_by(CartItem.created_at)
        )
        return list(rows)

    async def cart_item(self, buyer_id: int, variant_id: int) -> CartItem | None:
        return await self.session.get(CartItem, (buyer_id, variant_id))

    async def cart_size(self, buyer_id: int) -> int:
        return len(await self.cart(buyer_id))

    async def clear_cart(self, buyer_id: int, variant_ids: Sequence[int]) -> None:
        await self.session.execute(
            delete(CartItem).where(
                CartItem.buyer_id == buyer_id, CartItem.variant_id.in_(list(variant_ids))
            )
        )

    # orders
    async def order(self, order_id: int, *, lock: bool = False) -> Order | None:
        query = select(Order).where(Order.id == order_id)
        if lock:
            query = query.with_for_update().execution_options(populate_existing=True)
        return await self.session.scalar(query)

    async def order_of_claim(self, claim_id: int) -> Order | None:
        return await self.session.scalar(select(Order).where(Order.claim_id == claim_id))

    async def write_sale_orders(self, claim_ids: Sequence[int]) -> int:
        """The orders of these flash-sale claims that have none yet (PostgreSQL; on SQLite a
        claim is never without its order). Returns how many were written."""
        if not claim_ids or self.session.get_bind().dialect.name != "postgresql":
            return 0
        written = await self.session.scalar(text(SALE_ORDERS_PG), {"ids": list(claim_ids)})
        return int(written or 0)

    async def write_missing_sale_orders(self, before: datetime, limit: int = 1000) -> int:
        """Orders for claims a crash left without one (the writer writes them after answering
        the winners: a crash in between leaves the claim, which is the promise, alone)."""
        if self.session.get_bind().dialect.name != "postgresql":
            return 0
        ids = await self.session.scalars(text(_ORPHAN_CLAIMS), {"before": before, "limit": limit})
        return await self.write_sale_orders(list(ids))

    async def orders_for_request(self, buyer_id: int, prefix: str) -> list[Order]:
        rows = await self.session.scalars(
            select(Order)
            .where(Order.buyer_id == buyer_id, Order.request_key.startswith(prefix))
            .order_by(Order.id)
        )
        return list(rows)

    async def add_order(self, order: Order, items: Sequence[OrderItem]) -> None:
        self.session.add(order)
        await self.session.flush()
        for item in items:
            item.order_id = order.id
            self.session.add(item)
        await self.session.flush()

    async def sale_terms(self, sale_id: int) -> tuple[FlashSale, Variant, Product, Show | None]:
        """A flash sale with what its orders copy (variant, product, show): one round trip."""
        row = (
            await self.session.execute(
                select(FlashSale, Variant, Product, Show)
                .join(Variant, Variant.id == FlashSale.variant_id)
                .join(Product, Product.id == Variant.product_id)
                .outerjoin(Show, Show.id == FlashSale.show_id)
                .where(FlashSale.id == sale_id)
            )
        ).one()
        return row[0], row[1], row[2], row[3]

    async def insert_order_once(self, **values: Any) -> bool:
        """Insert unless the buyer's request already made one (two workers, one claim)."""
        return await insert_if_absent(self.session, Order, **values)

    async def items(self, order_ids: Sequence[int]) -> dict[int, list[OrderItem]]:
        out: dict[int, list[OrderItem]] = {i: [] for i in order_ids}
        if order_ids:
            rows = await self.session.scalars(
                select(OrderItem)
                .where(OrderItem.order_id.in_(list(order_ids)))
                .order_by(OrderItem.id)
            )
            for row in rows:
                out[row.order_id].append(row)
        return out

    async def move(self, order_id: int, *, old: str, new: str, **values: Any) -> bool:
        """Change the state only if it is still `old`; True when this caller changed it."""
        result = await self.session.execute(
            update(Order)
            .where(Order.id == order_id, Order.status == old)
            .values(status=new, **values)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    async def page(
        self,
        page: PageRequest,
        *,
        buyer_id: int | None = None,
        merchant_id: int | None = None,
        status: str | None = None,
        show_id: int | None = None,
        refund: str | None = None,
    ) -> list[Order]:
        query = select(Order).order_by(Order.id.desc()).limit(page.limit + 1)
        if refund is not None:
            query = query.where(Order.id.in_(latest_refunds(refund)))
        if page.after is not None:
            query = query.where(Order.id < page.after)
        if buyer_id is not None:
            query = query.where(Order.buyer_id == buyer_id)
        if merchant_id is not None:
            query = query.where(Order.merchant_id == merchant_id)
        if status is not None:
            query = query.where(Order.status == status)
        if show_id is not None:
            query = query.where(Order.show_id == show_id)
        return list(await self.session.scalars(query))

    async def overdue(self, now: datetime, limit: int) -> list[Order]:
        rows = await self.session.scalars(
            select(Order)
            .where(Order.status == "awaiting_payment", Order.expires_at <= now)
            .order_by(Order.expires_at)
            .limit(limit)
        )
        return list(rows)

    # payments
    async def payment_by_ref(self, provider: str, ref: str) -> Payment | None:
        return await self.session.scalar(
            select(Payment).where(Payment.provider == provider, Payment.provider_ref == ref)
        )

    async def payments_of(self, order_ids: Sequence[int]) -> dict[int, Payment]:
        """The latest payment of each order."""
        out: dict[int, Payment] = {}
        if order_ids:
            rows = await self.session.scalars(
                select(Payment).where(Payment.order_id.in_(list(order_ids))).order_by(Payment.id)
            )
            for row in rows:
                out[row.order_id] = row
        return out

    async def payments_to_refund(self, before: datetime, limit: int) -> list[Payment]:
        rows = await self.session.scalars(
            select(Payment)
            .where(Payment.status == "refunding", Payment.updated_at <= before)
            .order_by(Payment.id)
            .limit(limit)
        )
        return list(rows)

    async def move_payment(self, payment_id: int, *, old: Sequence[str], new: str) -> bool:
        result = await self.session.execute(
            update(Payment)
            .where(Payment.id == payment_id, Payment.status.in_(list(old)))
            .values(status=new)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    async def first_time(self, provider: str, event_id: str, kind: str) -> bool:
        """Record a notification; False if it was handled before (a redelivery)."""
        return await insert_if_absent(
            self.session,
            PaymentEvent,
            provider=provider,
            event_id=event_id,
            kind=kind,
            outcome="handled",
        )

    # refunds
    async def refunds_of(self, order_ids: Sequence[int]) -> dict[int, Refund]:
        """The latest refund of each order."""
        out: dict[int, Refund] = {}
        if order_ids:
            rows = await self.session.scalars(
                select(Refund).where(Refund.order_id.in_(list(order_ids))).order_by(Refund.id)
            )
            for row in rows:
                out[row.order_id] = row
        return out

    async def first_images(self, product_ids: Sequence[int]) -> dict[int, str]:
        """The storage key of each product's first image."""
        out: dict[int, str] = {}
        if product_ids:
            rows = await self.session.execute(
                select(ProductImage.product_id, ProductImage.storage_key)
                .where(ProductImage.product_id.in_(list(product_ids)))
                .order_by(ProductImage.position.desc(), ProductImage.id.desc())
            )
            for product_id, key in rows.all():
                out[int(product_id)] = str(key)  # the last written is the first in order
        return out

    async def shop_names(self, merchant_ids: Sequence[int]) -> dict[int, str]:
        if not merchant_ids:
            return {}
        rows = await self.session.execute(
            select(Merchant.id, Merchant.name).where(Merchant.id.in_(list(merchant_ids)))
        )
        return {int(i): str(name) for i, name in rows.all()}

    async def open_refund(self, order_id: int) -> Refund | None:
        return await self.session.scalar(
            select(Refund).where(
                Refund.order_id == order_id, Refund.status.in_(["requested", "approved"])
            )
        )
