from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from livecart.db.base import Base, BigId, CreatedMixin, IdMixin, UtcDateTime


class RoomSettings(Base):
    """Per-show room state that outlives a process: pin, slow mode, likes."""

    __tablename__ = "room_settings"
    __table_args__ = (
        CheckConstraint("slow_mode_secs >= 0", name="slow_mode_nonneg"),
        CheckConstraint("likes >= 0", name="likes_nonneg"),
    )
    show_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("shows.id", ondelete="CASCADE"), primary_key=True
    )
    pinned_product_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("products.id", ondelete="SET NULL")
    )
    slow_mode_secs: Mapped[int] = mapped_column(Integer, default=0)
    likes: Mapped[int] = mapped_column(BigInteger, default=0)
    peak_online: Mapped[int] = mapped_column(Integer, default=0)


class Moderator(CreatedMixin, Base):
    __tablename__ = "show_moderators"
    show_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("shows.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ChatMessage(IdMixin, CreatedMixin, Base):
    """A chat line; a question when `is_question`. Shadow-banned lines are `hidden`: shown only to
    their author."""

    __tablename__ = "chat_messages"
    __table_args__ = (
        CheckConstraint(
            "question_state IS NULL OR question_state IN ('open', 'claimed', 'answered')",
            name="question_state_known",
        ),
        Index("ix_chat_messages_show_recent", "show_id", "id"),
    )
    show_id: Mapped[int] = mapped_column(BigId, ForeignKey("shows.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(String(400))
    is_question: Mapped[bool] = mapped_column(Boolean, default=False)
    question_state: Mapped[str | None] = mapped_column(String(10))
    claimed_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"))
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"))
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)


class Restriction(CreatedMixin, Base):
    """A viewer muted (until a time), banned or shadow-banned in one show."""

    __tablename__ = "room_restrictions"
    __table_args__ = (CheckConstraint("kind IN ('mute', 'ban', 'shadow')", name="kind_known"),)
    show_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("shows.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(8))
    until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    by_user_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"))


class BlockedWord(IdMixin, CreatedMixin, Base):
    """A word refused in chat: the host's own (`host_id`) or global (`host_id` is null)."""

    __tablename__ = "blocked_words"
    host_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    word: Mapped[str] = mapped_column(String(40))


class Explanation(IdMixin, Base):
    """A segment of the show about one product (讲解): the replay's markers come from these."""

    __tablename__ = "explanations"
    show_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("shows.id", ondelete="CASCADE"), index=True
    )
    product_id: Mapped[int] = mapped_column(BigId, ForeignKey("products.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class LinkDrop(IdMixin, Base):
    """A link drop (上链接): the product card as shown, the host's action time and opening time."""

    __tablename__ = "link_drops"
    show_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("shows.id", ondelete="CASCADE"), index=True
    )
    product_id: Mapped[int] = mapped_column(BigId, ForeignKey("products.id", ondelete="CASCADE"))
    price_minor: Mapped[int] = mapped_column(BigInteger)
    stock_shown: Mapped[int] = mapped_column(Integer)
    t_event: Mapped[datetime] = mapped_column(UtcDateTime)
    opens_at: Mapped[datetime] = mapped_column(UtcDateTime)
    by_user_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"))
    # What the drop offers beyond the card, as sent (a flash sale's terms), for late joiners.
    offer: Mapped[dict[str, Any] | None] = mapped_column(JSON)
