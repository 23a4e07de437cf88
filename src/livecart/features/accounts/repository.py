"""Every query of the accounts feature."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, cast, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from livecart.db.inserts import insert_if_absent
from livecart.features.accounts.models import ApiToken, Follow, HostProfile, Merchant, User
from livecart.kit.clock import utcnow
from livecart.kit.pagination import PageRequest


class AccountsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def user_by_email(self, email: str) -> User | None:
        return await self.session.scalar(select(User).where(User.email == email))

    async def user(self, user_id: int) -> User | None:
        return await self.session.get(User, user_id)

    async def merchant(self, merchant_id: int) -> Merchant | None:
        return await self.session.get(Merchant, merchant_id)

    async def user_by_token(self, token_hash: str, *, now: datetime) -> User | None:
        return await self.session.scalar(
            select(User)
            .join(ApiToken, ApiToken.user_id == User.id)
            .where(ApiToken.token_hash == token_hash, ApiToken.expires_at > now)
        )

    async def delete_token(self, token_hash: str) -> None:
        await self.session.execute(delete(ApiToken).where(ApiToken.token_hash == token_hash))

    async def host_profile(self, user_id: int) -> HostProfile | None:
        return await self.session.get(HostProfile, user_id)

    async def hosts(
        self, page: PageRequest, *, category: str | None, merchant_id: int | None
    ) -> list[tuple[User, HostProfile]]:
        query = (
            select(User, HostProfile)
            .join(HostProfile, HostProfile.user_id == User.id)
            .order_by(User.id)
            .limit(page.limit + 1)
        )
        if page.after is not None:
            query = query.where(User.id > page.after)
        if merchant_id is not None:
            query = query.where(HostProfile.merchant_id == merchant_id)
        if category is not None:
            # Categories are slugs from a fixed list kept as a JSON array; its text holds '"slug"'
            # exactly when the slug is in it, on SQLite and PostgreSQL alike.
            query = query.where(cast(HostProfile.categories, String).like(f'%"{category}"%'))
        return [(user, profile) for user, profile in await self.session.execute(query)]

    async def hosts_by_ids(self, host_ids: list[int]) -> dict[int, tuple[User, HostProfile]]:
        if not host_ids:
            return {}
        rows = await self.session.execute(
            select(User, HostProfile)
            .join(HostProfile, HostProfile.user_id == User.id)
            .where(User.id.in_(set(host_ids)))
        )
        return {user.id: (user, profile) for user, profile in rows}

    async def follow(self, follower_id: int, host_id: int) -> bool:
        """Add the follow if absent; True when it was added (atomic under concurrency)."""
        added = await insert_if_absent(
            self.session, Follow, follower_id=follower_id, host_id=host_id, created_at=utcnow()
        )
        if added:
            await self._bump_followers(host_id, 1)
        return added

    async def unfollow(self, follower_id: int, host_id: int) -> bool:
        result = await self.session.execute(
            delete(Follow).where(Follow.follower_id == follower_id, Follow.host_id == host_id)
        )
        removed = bool(getattr(result, "rowcount", 0))
        if removed:
            await self._bump_followers(host_id, -1)
        return removed

    async def is_following(self, follower_id: int, host_id: int) -> bool:
        return await self.session.get(Follow, (follower_id, host_id)) is not None

    async def followed_host_ids(self, follower_id: int, host_ids: list[int]) -> set[int]:
        if not host_ids:
            return set()
        rows = await self.session.scalars(
            select(Follow.host_id).where(
                Follow.follower_id == follower_id, Follow.host_id.in_(host_ids)
            )
        )
        return set(rows)

    async def _bump_followers(self, host_id: int, delta: int) -> None:
        await self.session.execute(
            update(HostProfile)
            .where(HostProfile.user_id == host_id)
            .values(followers_count=HostProfile.followers_count + delta)
        )
        await self.session.flush()
