from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from livecart.db.base import Base, BigId, CreatedMixin, IdMixin, UtcDateTime


class Role(StrEnum):
    VIEWER = "viewer"
    HOST = "host"
    MERCHANT_STAFF = "merchant_staff"
    AGENCY = "agency"
    ADMIN = "admin"


class Merchant(IdMixin, CreatedMixin, Base):
    __tablename__ = "merchants"
    name: Mapped[str] = mapped_column(String(80))


class User(IdMixin, CreatedMixin, Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "(role = 'merchant_staff') = (merchant_id IS NOT NULL)", name="staff_has_merchant"
        ),
    )
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    display_name: Mapped[str] = mapped_column(String(40))
    role: Mapped[str] = mapped_column(String(20), index=True)
    merchant_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("merchants.id", ondelete="RESTRICT"), index=True
    )
    locale: Mapped[str | None] = mapped_column(String(10))


class ApiToken(IdMixin, CreatedMixin, Base):
    __tablename__ = "api_tokens"
    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)


class HostProfile(CreatedMixin, Base):
    """A host's public face. `merchant_id` is set when the host streams for one merchant's shop."""

    __tablename__ = "host_profiles"
    __table_args__ = (CheckConstraint("followers_count >= 0", name="followers_nonneg"),)
    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    bio: Mapped[str] = mapped_column(Text, default="")
    avatar_key: Mapped[str | None] = mapped_column(String(200))
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    followers_count: Mapped[int] = mapped_column(Integer, default=0)
    merchant_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("merchants.id", ondelete="SET NULL"), index=True
    )
    agency_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), index=True
    )


class Follow(CreatedMixin, Base):
    __tablename__ = "follows"
    follower_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    host_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
