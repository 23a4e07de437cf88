"""Every query of the rooms feature."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from livecart.db.inserts import insert_if_absent
from livecart.features.accounts.models import User
from livecart.features.rooms.models import (
    BlockedWord,
    ChatMessage,
    Explanation,
    LinkDrop,
    Moderator,
    Restriction,
    RoomSettings,
)
from livecart.features.shows.models import Show


class RoomsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def settings(self, show_id: int) -> RoomSettings:
        """The room's settings row, created on first use. Many connections may ask at once, so
        the insert is `ON CONFLICT DO NOTHING` (both backends have it)."""
        found = await self.session.get(RoomSettings, show_id)
        if found is not None:
            return found
        await insert_if_absent(
            self.session, RoomSettings, show_id=show_id, slow_mode_secs=0, likes=0, peak_online=0
        )
        found = await self.session.get(RoomSettings, show_id)
        assert found is not None
        return found

    async def saved_counts(self, show_id: int) -> tuple[int, int]:
        """(likes, peak online) as last saved; zeros for a room never saved. Reads only."""
        row = (
            await self.session.execute(
                select(RoomSettings.likes, RoomSettings.peak_online).where(
                    RoomSettings.show_id == show_id
                )
            )
        ).first()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    async def save_counts(self, show_id: int, *, likes: int, peak: int) -> None:
        """Keep the larger of the saved and the given totals (processes report the same ones)."""
        if await self.session.get(Show, show_id) is None:
            return  # the show is gone; so are its counters
        settings = await self.settings(show_id)
        settings.likes = max(settings.likes, likes)
        settings.peak_online = max(settings.peak_online, peak)

    async def is_moderator(self, show_id: int, user_id: int) -> bool:
        return await self.session.get(Moderator, (show_id, user_id)) is not None

    async def moderators(self, show_id: int) -> list[User]:
        rows = await self.session.scalars(
            select(User)
            .join(Moderator, Moderator.user_id == User.id)
            .where(Moderator.show_id == show_id)
            .order_by(User.id)
        )
        return list(rows)

    async def add_moderator(self, show_id: int, user_id: int) -> None:
        if not await self.is_moderator(show_id, user_id):
            self.session.add(Moderator(show_id=show_id, user_id=user_id))
            await self.session.flush()

    async def remove_moderator(self, show_id: int, user_id: int) -> None:
        await self.session.execute(
            delete(Moderator).where(Moderator.show_id == show_id, Moderator.user_id == user_id)
        )

    async def restriction(self, show_id: int, user_id: int) -> Restriction | None:
        return await self.session.get(Restriction, (show_id, user_id))

    async def set_restriction(self, restriction: Restriction) -> None:
        await self.session.merge(restriction)
        await self.session.flush()

    async def lift_restriction(self, show_id: int, user_id: int) -> None:
        await self.session.execute(
            delete(Restriction).where(
                Restriction.show_id == show_id, Restriction.user_id == user_id
            )
        )

    async def blocked_words(self, host_id: int) -> list[str]:
        rows = await self.session.scalars(
            select(BlockedWord.word).where(
                or_(BlockedWord.host_id == host_id, BlockedWord.host_id.is_(None))
            )
        )
        return list(rows)

    async def own_blocked_words(self, host_id: int | None) -> list[BlockedWord]:
        query = select(BlockedWord).order_by(BlockedWord.word)
        query = query.where(
            BlockedWord.host_id.is_(None) if host_id is None else BlockedWord.host_id == host_id
        )
        return list(await self.session.scalars(query))

    async def replace_blocked_words(self, host_id: int | None, words: list[str]) -> None:
        condition = (
            BlockedWord.host_id.is_(None) if host_id is None else BlockedWord.host_id == host_id
        )
        await self.session.execute(delete(BlockedWord).where(condition))
        self.session.add_all(BlockedWord(host_id=host_id, word=w) for w in words)
        await self.session.flush()

    async def last_post_at(self, show_id: int, user_id: int) -> datetime | None:
        return await self.session.scalar(
            select(ChatMessage.created_at)
            .where(ChatMessage.show_id == show_id, ChatMessage.user_id == user_id)
            .order_by(ChatMessage.id.desc())
            .limit(1)
        )

    async def message(self, show_id: int, message_id: int) -> ChatMessage | None:
        found = await self.session.get(ChatMessage, message_id)
        return found if found is not None and found.show_id == show_id else None

    async def recent_chat(
        self, show_id: int, *, viewer_id: int | None, limit: int
    ) -> list[ChatMessage]:
        """The last `limit` visible lines, oldest first; hidden lines only for their author."""
        visible: ColumnElement[bool] = ChatMessage.hidden.is_(False)
        if viewer_id is not None:
            visible = visible | (ChatMessage.user_id == viewer_id)
        rows = await self.session.scalars(
            select(ChatMessage)
            .where(ChatMessage.show_id == show_id, ChatMessage.deleted.is_(False), visible)
            .order_by(ChatMessage.id.desc())
            .limit(limit)
        )
        return list(reversed(list(rows)))

    async def questions(self, show_id: int, *, after: int | None, limit: int) -> list[ChatMessage]:
        query = (
            select(ChatMessage)
            .where(
                ChatMessage.show_id == show_id,
                ChatMessage.is_question.is_(True),
                ChatMessage.deleted.is_(False),
                ChatMessage.hidden.is_(False),
            )
            .order_by(ChatMessage.id.desc())
            .limit(limit + 1)
        )
        if after is not None:
            query = query.where(ChatMessage.id < after)
        return list(await self.session.scalars(query))

    async def delete_user_messages(self, show_id: int, user_id: int) -> list[int]:
        ids = list(
            await self.session.scalars(
                select(ChatMessage.id).where(
                    ChatMessage.show_id == show_id,
                    ChatMessage.user_id == user_id,
                    ChatMessage.deleted.is_(False),
                )
            )
        )
        if ids:
            await self.session.execute(
                update(ChatMessage)
                .where(ChatMessage.id.in_(ids))
                .values(deleted=True)
                .execution_options(synchronize_session=False)
            )
        return ids

    async def users(self, user_ids: set[int]) -> dict[int, User]:
        if not user_ids:
            return {}
        rows = await self.session.scalars(select(User).where(User.id.in_(user_ids)))
        return {u.id: u for u in rows}

    async def open_explanation(self, show_id: int) -> Explanation | None:
        return await self.session.scalar(
            select(Explanation)
            .where(Explanation.show_id == show_id, Explanation.ended_at.is_(None))
            .order_by(Explanation.id.desc())
            .limit(1)
        )

    async def explanations(self, show_id: int) -> list[Explanation]:
        rows = await self.session.scalars(
            select(Explanation).where(Explanation.show_id == show_id).order_by(Explanation.id)
        )
        return list(rows)

    async def recent_drops(self, show_id: int, *, since: datetime) -> list[LinkDrop]:
        rows = await self.session.scalars(
            select(LinkDrop)
            .where(LinkDrop.show_id == show_id, LinkDrop.opens_at >= since)
            .order_by(LinkDrop.id)
        )
        return list(rows)
