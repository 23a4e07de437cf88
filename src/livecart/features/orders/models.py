from __future__ import annotations

from datetime import datetime
from typing import Any

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
from sqlalchemy.orm import Mapped, mapped_column

from livecart.db.base import Base, BigId, CreatedMixin, IdMixin, UtcDateTime
from livecart.kit.clock import utcnow

ORDER_STATES = (
    "awaiting_payment",
    "paid",
    "shipped",
    "delivered",
    "completed",
    "cancelled",
    "expired",
    "refunded",
)
SOURCES = ("live", "replay", "link_out", "direct")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class CartItem(CreatedMixin, Base):
    """A variant in a buyer's bag, with where it was added (kept as the order's attribution)."""

    __tablename__ = "cart_items"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(_in("source", SOURCES), name="source_known"),
    )
    buyer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    variant_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("variants.id", ondelete="CASCADE"), primary_key=True
    )
    quantity: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(10), default="direct")
    show_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("shows.id", ondelete="SET NULL"))
    video_time_ms: Mapped[int | None] = mapped_column(BigInteger)


class Order(IdMixin, CreatedMixin, Base):
    """One merchant's part of a purchase. Attribution (show, host, source, video time) is kept
    as it was when the buyer decided; prices are the ones shown then."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("buyer_id", "request_key", name="uq_orders_request"),
        CheckConstraint(_in("status", ORDER_STATES), name="status_known"),
        CheckConstraint(_in("source", SOURCES), name="source_known"),
        CheckConstraint("total_minor >= 0", name="total_not_negative"),
    )
    # No foreign keys on orders and their lines: a flash sale's winners are written with their
    # orders in one statement, and the checks were half its cost (docs/adr/0004). The writers
    # take every reference from rows they read or join; nothing here is ever deleted.
    buyer_id: Mapped[int] = mapped_column(BigId, index=True)  # users.id
    merchant_id: Mapped[int] = mapped_column(BigId, index=True)  # merchants.id
    # The buyer's request that made it: a checkout's Idempotency-Key, or "sale:<claim id>".
    request_key: Mapped[str] = mapped_column(String(80))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    show_id: Mapped[int | None] = mapped_column(BigId, index=True)  # shows.id
    host_id: Mapped[int | None] = mapped_column(BigId)  # users.id
    source: Mapped[str] = mapped_column(String(10))
    video_time_ms: Mapped[int | None] = mapped_column(BigInteger)
    sale_id: Mapped[int | None] = mapped_column(BigId, index=True)  # flash_sales.id
    claim_id: Mapped[int | None] = mapped_column(BigId, unique=True)  # sale_claims.id
    currency: Mapped[str] = mapped_column(String(3))
    total_minor: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20), index=True)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    ship_to: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    carrier: Mapped[str | None] = mapped_column(String(40))
    tracking_number: Mapped[str | None] = mapped_column(String(64))
    paid_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    shipped_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class OrderItem(IdMixin, Base):
    """A line as the buyer saw it: title, options and unit price are copies, not references."""

    __tablename__ = "order_items"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)
    order_id: Mapped[int] = mapped_column(BigId, index=True)  # orders.id (no foreign key)
    product_id: Mapped[int] = mapped_column(BigId)  # products.id
    variant_id: Mapped[int] = mapped_column(BigId)  # variants.id
    title: Mapped[str] = mapped_column(String(120))
    options: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_minor: Mapped[int] = mapped_column(BigInteger)


class Payment(IdMixin, CreatedMixin, Base):
    """One attempt to pay an order at a provider. `status` only moves forward."""

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("provider", "provider_ref", name="uq_payments_provider_ref"),
        CheckConstraint(
            "status IN ('pending', 'succeeded', 'failed', 'refunding', 'refunded')",
            name="status_known",
        ),
    )
    order_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[str] = mapped_column(String(20))
    provider_ref: Mapped[str] = mapped_column(String(64))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(12))
    pay_url: Mapped[str] = mapped_column(String(300))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class PaymentEvent(CreatedMixin, Base):
    """Every provider notification handled, by its event id: a redelivery changes nothing."""

    __tablename__ = "payment_events"
    provider: Mapped[str] = mapped_column(String(20), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    outcome: Mapped[str] = mapped_column(String(40))


class Refund(IdMixin, CreatedMixin, Base):
    """After-sales: requested → approved (the provider pays back) → refunded, or rejected."""

    __tablename__ = "refunds"
    __table_args__ = (
        CheckConstraint(
            "status IN ('requested', 'approved', 'rejected', 'refunded')", name="status_known"
        ),
    )
    order_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    restock: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL")
    )
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    provider_ref: Mapped[str | None] = mapped_column(String(64))
