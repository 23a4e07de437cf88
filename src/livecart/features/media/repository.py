"""Queries of the media feature: replays, markers, and the show's log of its moments."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from livecart.db.inserts import insert_if_absent
from livecart.features.catalog.models import Product
from livecart.features.media.models import Replay, ReplayMarker
from livecart.features.rooms.models import ChatMessage, LinkDrop
from livecart.features.shows.models import Show


class MediaRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def replay(self, show_id: int) -> Replay | None:
        return await self.session.scalar(select(Replay).where(Replay.show_id == show_id))

    async def ensure_replay(self, show_id: int) -> Replay:
        await insert_if_absent(
            self.session,
            Replay,
            show_id=show_id,
            status="recording",
            runs=0,
            ingest_paths=[],
            encode_status="pending",
            encode_progress=0.0,
        )
        replay = await self.replay(show_id)
        assert replay is not None
        return replay

    async def claim_publisher(self, show_id: int, publisher: str, *, node: str) -> bool:
        """Take the show's one publishing slot, atomically; False when someone holds it."""
        result = await self.session.execute(
            update(Replay)
            .where(Replay.show_id == show_id, Replay.publisher.is_(None))
            .values(publisher=publisher, media_node=node, stream_gone_at=None, runs=Replay.runs + 1)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    async def release_publisher(self, publisher: str, *, node: str, now: datetime) -> Replay | None:
        replay = await self.session.scalar(
            select(Replay).where(Replay.publisher == publisher, Replay.media_node == node)
        )
        if replay is not None:
            replay.publisher = None
            replay.stream_gone_at = now
        return replay

    async def release_all_publishers(self, *, node: str, now: datetime) -> None:
        """This node's nginx restarted: nobody publishes to it any more; grace starts now."""
        await self.session.execute(
            update(Replay)
            .where(Replay.publisher.is_not(None), Replay.media_node == node)
            .values(publisher=None, stream_gone_at=now)
            .execution_options(synchronize_session=False)
        )

    async def gone_streams(self, *, node: str, before: datetime) -> Sequence[tuple[Replay, Show]]:
        """Live shows streamed through `node` whose stream left before `before` and has not
        come back."""
        rows = await self.session.execute(
            select(Replay, Show)
            .join(Show, Show.id == Replay.show_id)
            .where(
                Replay.publisher.is_(None),
                Replay.stream_gone_at.is_not(None),
                Replay.stream_gone_at < before,
                Replay.media_node == node,
                Show.state == "live",
            )
        )
        return [(r, s) for r, s in rows.tuples()]

    async def replays_to_finish(self, *, node: str) -> Sequence[Replay]:
        """Replays recorded through `node`, still open, whose show is over."""
        return list(
            await self.session.scalars(
                select(Replay)
                .join(Show, Show.id == Replay.show_id)
                .where(
                    Replay.status == "recording",
                    Replay.media_node == node,
                    Show.state.in_(("ended", "cancelled")),
                )
            )
        )

    async def markers(self, show_id: int) -> list[ReplayMarker]:
        return list(
            await self.session.scalars(
                select(ReplayMarker)
                .where(ReplayMarker.show_id == show_id)
                .order_by(ReplayMarker.start_ms, ReplayMarker.id)
            )
        )

    async def marker(self, show_id: int, marker_id: int) -> ReplayMarker | None:
        return await self.session.scalar(
            select(ReplayMarker).where(
                ReplayMarker.id == marker_id, ReplayMarker.show_id == show_id
            )
        )

    async def chat_times(self, show_id: int) -> list[datetime]:
        rows = await self.session.scalars(
            select(ChatMessage.created_at).where(
                ChatMessage.show_id == show_id,
                ChatMessage.deleted.is_(False),
                ChatMessage.hidden.is_(False),
            )
        )
        return list(rows)

    async def drop_times(self, show_id: int) -> list[datetime]:
        rows = await self.session.scalars(
            select(LinkDrop.t_event).where(LinkDrop.show_id == show_id)
        )
        return list(rows)

    async def products(self, product_ids: set[int]) -> dict[int, Product]:
        if not product_ids:
            return {}
        rows = await self.session.scalars(select(Product).where(Product.id.in_(product_ids)))
        return {p.id: p for p in rows}
