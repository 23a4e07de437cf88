from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from livecart.db.base import Base, BigId, CreatedMixin, IdMixin, UtcDateTime


class FlashSale(IdMixin, CreatedMixin, Base):
    """Units of one variant at a special price in one show. `taken` counts units held by claims
    that are awaiting payment or paid; the CHECK makes overselling impossible even if the gate in
    front of it were wrong."""

    __tablename__ = "flash_sales"
    __table_args__ = (
        CheckConstraint("taken >= 0 AND taken <= allotted", name="never_oversold"),
        CheckConstraint(
            "units_returned >= 0 AND units_returned + taken <= allotted", name="returned_unsold"
        ),
        CheckConstraint("allotted > 0", name="allotted_positive"),
        CheckConstraint("per_buyer_limit > 0", name="limit_positive"),
        CheckConstraint("mode IN ('first_come', 'fair_window')", name="mode_known"),
    )
    show_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("shows.id", ondelete="CASCADE"), index=True
    )
    variant_id: Mapped[int] = mapped_column(BigId, ForeignKey("variants.id", ondelete="RESTRICT"))
    drop_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("link_drops.id"))
    price_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    allotted: Mapped[int] = mapped_column(Integer)
    taken: Mapped[int] = mapped_column(Integer, default=0)
    # Units moved back to the variant's stock after the sale closed (unsold, or freed later).
    units_returned: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    per_buyer_limit: Mapped[int] = mapped_column(Integer)
    opens_at: Mapped[datetime] = mapped_column(UtcDateTime)
    closes_at: Mapped[datetime] = mapped_column(UtcDateTime)
    payment_window_secs: Mapped[int] = mapped_column(Integer)
    mode: Mapped[str] = mapped_column(String(12), default="first_come")
    # fair_window: requests in [opens_at, opens_at + window_ms) are ordered by lot. The seed stays
    # secret until the window has been allocated; its SHA-256 is public from the start.
    window_ms: Mapped[int] = mapped_column(Integer, default=0)
    seed: Mapped[str | None] = mapped_column(String(64))
    seed_hash: Mapped[str | None] = mapped_column(String(64))
    allocated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # the log is written
    by_user_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"))


class SaleBuyer(Base):
    """What one buyer holds in one sale; the CHECK keeps the per-buyer limit in the database."""

    __tablename__ = "sale_buyers"
    __table_args__ = (CheckConstraint("taken >= 0 AND taken <= buyer_limit", name="within_limit"),)
    # No foreign keys here or in sale_claims: every winner would pay for their checks (see
    # docs/adr/0004). The gate writes only the sale it loaded and the signed-in buyer.
    sale_id: Mapped[int] = mapped_column(BigId, primary_key=True)  # flash_sales.id
    buyer_id: Mapped[int] = mapped_column(BigId, primary_key=True)  # users.id
    taken: Mapped[int] = mapped_column(Integer, default=0)
    buyer_limit: Mapped[int] = mapped_column(Integer)


class SaleClaim(IdMixin, CreatedMixin, Base):
    """A won purchase: units reserved for a buyer until paid or expired. The idempotency key
    makes a repeated request return this same claim."""

    __tablename__ = "sale_claims"
    __table_args__ = (
        UniqueConstraint("sale_id", "buyer_id", "idempotency_key", name="uq_sale_claims_request"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(
            "status IN ('awaiting_payment', 'paid', 'expired', 'cancelled')", name="status_known"
        ),
    )
    sale_id: Mapped[int] = mapped_column(BigId, index=True)  # flash_sales.id (no foreign key)
    buyer_id: Mapped[int] = mapped_column(BigId)  # users.id (no foreign key)
    idempotency_key: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_minor: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20), index=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class SaleLot(Base):
    """One request of a fair_window sale's window, in the public allocation log: who (a
    pseudonym), what (the request key's hash and quantity), its lot and what it got."""

    __tablename__ = "sale_lots"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(
            "outcome IN ('won', 'sold_out', 'buyer_limit_reached', 'refused')", name="outcome_known"
        ),
    )
    sale_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("flash_sales.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    pseudonym: Mapped[str] = mapped_column(String(64))
    key_hash: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(Integer)
    lot: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(24))
