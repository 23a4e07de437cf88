"""The sandbox provider's own books: charges and the notifications it owes the shop."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from livecart.db.base import Base, CreatedMixin, IdMixin, UtcDateTime


class SandboxCharge(IdMixin, CreatedMixin, Base):
    __tablename__ = "sandbox_charges"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'paid', 'failed', 'refunded')", name="status_known"),
    )
    ref: Mapped[str] = mapped_column(String(40), unique=True)
    merchant_ref: Mapped[str] = mapped_column(String(64))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(10), default="open")
    return_url: Mapped[str] = mapped_column(String(300))
    notify_url: Mapped[str] = mapped_column(String(300))
    paid_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    refunded_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class SandboxDelivery(IdMixin, CreatedMixin, Base):
    """One attempt-series to deliver one notification; a duplicate is a second row."""

    __tablename__ = "sandbox_deliveries"
    event_id: Mapped[str] = mapped_column(String(40), index=True)
    url: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(String(200))
