"""Every query of the shows feature."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from livecart.db.inserts import insert_if_absent
from livecart.features.shows.models import LineupItem, Reminder, Show
from livecart.kit.clock import utcnow
from livecart.kit.pagination import PageRequest


class ShowsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def show(self, show_id: int) -> Show | None:
        return await self.session.get(Show, show_id)

    async def show_by_stream_key_hash(self, key_hash: str) -> Show | None:
        return await self.session.scalar(select(Show).where(Show.stream_key_hash == key_hash))

    async def shows(
        self,
        page: PageRequest,
        *,
        states: list[str] | None,
        host_id: int | None,
        after_start: tuple[datetime, int] | None = None,
        upcoming: bool = False,
    ) -> list[Show]:
        """Newest first by id; or, with `upcoming`, soonest planned start first (cursor is then the
        (planned_start, id) pair in `after_start`)."""
        query = select(Show).limit(page.limit + 1)
        if upcoming:
            query = query.order_by(Show.planned_start, Show.id)
            if after_start is not None:
                query = query.where(tuple_(Show.planned_start, Show.id) > tuple_(*after_start))
        else:
            query = query.order_by(Show.id.desc())
            if page.after is not None:
                query = query.where(Show.id < page.after)
        if states:
            query = query.where(Show.state.in_(states))
        if host_id is not None:
            query = query.where(Show.host_id == host_id)
        return list(await self.session.scalars(query))

    async def lineups(self, show_ids: list[int]) -> dict[int, list[LineupItem]]:
        result: dict[int, list[LineupItem]] = {sid: [] for sid in show_ids}
        if not show_ids:
            return result
        rows = await self.session.scalars(
            select(LineupItem)
            .where(LineupItem.show_id.in_(show_ids))
            .order_by(LineupItem.show_id, LineupItem.position)
        )
        for item in rows:
            result[item.show_id].append(item)
        return result

    async def replace_lineup(self, show_id: int, product_ids: list[int]) -> None:
        await self.session.execute(delete(LineupItem).where(LineupItem.show_id == show_id))
        await self.session.flush()
        self.session.add_all(
            LineupItem(show_id=show_id, product_id=pid, position=pos)
            for pos, pid in enumerate(product_ids)
        )
        await self.session.flush()

    async def reminded_show_ids(self, user_id: int, show_ids: list[int]) -> set[int]:
        if not show_ids:
            return set()
        rows = await self.session.scalars(
            select(Reminder.show_id).where(
                Reminder.user_id == user_id, Reminder.show_id.in_(show_ids)
            )
        )
        return set(rows)

    async def add_reminder(self, show_id: int, user_id: int) -> bool:
        """Add the reminder if absent; True when it was added (atomic under concurrency)."""
        added = await insert_if_absent(
            self.session, Reminder, show_id=show_id, user_id=user_id, created_at=utcnow()
        )
        if added:
            await self._bump_reminders(show_id, 1)
        return added

    async def remove_reminder(self, show_id: int, user_id: int) -> bool:
        result = await self.session.execute(
            delete(Reminder).where(Reminder.show_id == show_id, Reminder.user_id == user_id)
        )
        removed = bool(getattr(result, "rowcount", 0))
        if removed:
            await self._bump_reminders(show_id, -1)
        return removed

    async def _bump_reminders(self, show_id: int, delta: int) -> None:
        await self.session.execute(
            update(Show)
            .where(Show.id == show_id)
            .values(reminders_count=Show.reminders_count + delta)
            .execution_options(synchronize_session=False)
        )
        await self.session.flush()
