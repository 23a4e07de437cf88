from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from livecart.db.base import Base, BigId, CreatedMixin, IdMixin, UtcDateTime
from livecart.kit.clock import utcnow


class Product(IdMixin, CreatedMixin, Base):
    __tablename__ = "products"
    merchant_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("merchants.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(20), index=True)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    open_to_hosts: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    variants: Mapped[list[Variant]] = relationship(
        lazy="raise", order_by="Variant.id", back_populates="product"
    )
    images: Mapped[list[ProductImage]] = relationship(
        lazy="raise", order_by="ProductImage.position"
    )


class ProductImage(IdMixin, CreatedMixin, Base):
    __tablename__ = "product_images"
    product_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    storage_key: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(40))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, default=0)


class Variant(IdMixin, CreatedMixin, Base):
    """A SKU. Prices are minor units in the product's currency; stock never goes negative."""

    __tablename__ = "variants"
    __table_args__ = (
        CheckConstraint("stock >= 0", name="stock_nonneg"),
        CheckConstraint("price_minor > 0", name="price_positive"),
        CheckConstraint(
            "list_price_minor IS NULL OR list_price_minor >= price_minor",
            name="list_price_not_below_price",
        ),
        UniqueConstraint("product_id", "sku", name="uq_variants_product_sku"),
    )
    product_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    sku: Mapped[str] = mapped_column(String(64))
    options: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    price_minor: Mapped[int] = mapped_column(BigInteger)
    list_price_minor: Mapped[int | None] = mapped_column(BigInteger)
    stock: Mapped[int] = mapped_column(Integer, default=0)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    product: Mapped[Product] = relationship(lazy="raise", back_populates="variants")


class StockMovement(IdMixin, CreatedMixin, Base):
    """The ledger of every stock change; `stock_after` is the variant's stock right after it."""

    __tablename__ = "stock_movements"
    variant_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("variants.id", ondelete="CASCADE"), index=True
    )
    delta: Mapped[int] = mapped_column(Integer)
    stock_after: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="SET NULL"))
