"""Every query of the catalog feature."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from livecart.features.catalog.models import Product, ProductImage, StockMovement, Variant
from livecart.kit.pagination import PageRequest

MAX_IMAGES = 9


def _with_children(query: Select[Product]) -> Select[Product]:
    return query.options(selectinload(Product.variants), selectinload(Product.images))


class CatalogRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def product(self, product_id: int, *, fresh: bool = False) -> Product | None:
        """The product with its variants and images; `fresh` reloads them after changes."""
        query = _with_children(select(Product)).where(Product.id == product_id)
        if fresh:
            query = query.execution_options(populate_existing=True)
        return await self.session.scalar(query)

    async def products_by_ids(self, product_ids: Sequence[int]) -> list[Product]:
        if not product_ids:
            return []
        rows = await self.session.scalars(
            _with_children(select(Product)).where(Product.id.in_(product_ids))
        )
        return list(rows)

    async def products(
        self,
        page: PageRequest,
        *,
        merchant_id: int | None = None,
        category: str | None = None,
        open_to_hosts: bool | None = None,
        include_archived: bool = False,
        host_view: bool = False,
        host_merchant_id: int | None = None,
        text: str | None = None,
    ) -> list[Product]:
        """Products by descending id (newest first), one more than the page to know if more exist.

        `host_view` selects what a host may show: products open to hosts, plus all of
        `host_merchant_id`'s own when the host streams for a merchant.
        """
        query = _with_children(select(Product)).order_by(Product.id.desc()).limit(page.limit + 1)
        if page.after is not None:
            query = query.where(Product.id < page.after)
        if merchant_id is not None:
            query = query.where(Product.merchant_id == merchant_id)
        if category is not None:
            query = query.where(Product.category == category)
        if open_to_hosts is not None:
            query = query.where(Product.open_to_hosts.is_(open_to_hosts))
        if host_view:
            allowed: ColumnElement[bool] = Product.open_to_hosts.is_(True)
            if host_merchant_id is not None:
                allowed = allowed | (Product.merchant_id == host_merchant_id)
            query = query.where(allowed)
        if not include_archived:
            query = query.where(Product.archived.is_(False))
        if text:
            escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(Product.title.ilike(f"%{escaped}%", escape="\\"))
        return list(await self.session.scalars(query))

    async def variant(self, variant_id: int) -> Variant | None:
        return await self.session.scalar(
            select(Variant).options(selectinload(Variant.product)).where(Variant.id == variant_id)
        )

    async def image_count(self, product_id: int) -> int:
        rows = await self.session.scalars(
            select(ProductImage.id).where(ProductImage.product_id == product_id)
        )
        return len(list(rows))

    async def sku_taken(self, product_id: int, sku: str) -> bool:
        found = await self.session.scalar(
            select(Variant.id).where(Variant.product_id == product_id, Variant.sku == sku)
        )
        return found is not None

    async def add_to_stock(self, variant_id: int, delta: int) -> int | None:
        """Atomically add `delta` unless that would go below zero. The new stock, or None."""
        result = await self.session.execute(
            update(Variant)
            .where(Variant.id == variant_id, Variant.stock + delta >= 0)
            .values(stock=Variant.stock + delta)
            .returning(Variant.stock)
            .execution_options(synchronize_session=False)
        )
        return result.scalar_one_or_none()

    def record_movement(self, movement: StockMovement) -> None:
        self.session.add(movement)

    async def movements(self, variant_id: int, limit: int) -> list[StockMovement]:
        rows = await self.session.scalars(
            select(StockMovement)
            .where(StockMovement.variant_id == variant_id)
            .order_by(StockMovement.id.desc())
            .limit(limit)
        )
        return list(rows)
