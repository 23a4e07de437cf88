from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from livecart.db.base import Base, BigId, CreatedMixin, IdMixin, UtcDateTime


class Show(IdMixin, CreatedMixin, Base):
    __tablename__ = "shows"
    __table_args__ = (
        CheckConstraint("state IN ('scheduled', 'live', 'ended', 'cancelled')", name="state_known"),
        CheckConstraint("reminders_count >= 0", name="reminders_nonneg"),
    )
    host_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(80))
    description: Mapped[str] = mapped_column(Text, default="")
    cover_key: Mapped[str | None] = mapped_column(String(200))
    planned_start: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    state: Mapped[str] = mapped_column(String(12), index=True, default="scheduled")
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Only a hash of the stream key is kept; the host sees the key when it is made or rotated.
    stream_key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    stream_key_hint: Mapped[str] = mapped_column(String(8))
    reminders_count: Mapped[int] = mapped_column(Integer, default=0)


class LineupItem(Base):
    __tablename__ = "show_products"
    __table_args__ = (UniqueConstraint("show_id", "position", name="uq_show_products_position"),)
    show_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("shows.id", ondelete="CASCADE"), primary_key=True
    )
    product_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("products.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer)


class Reminder(CreatedMixin, Base):
    __tablename__ = "show_reminders"
    show_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("shows.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
