"""The unit of work: one session per request or job, committed at the boundary.

Services add work to the session and never commit; the boundary commits once and only then runs the
after-commit hooks (room events, jobs), so nothing leaves the process before its data is durable.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

SessionFactory = async_sessionmaker[AsyncSession]
AfterCommit = Callable[[], Awaitable[None]]

log = logging.getLogger(__name__)


def dialect_of(factory: SessionFactory) -> str:
    """`postgresql` or `sqlite`: the database the factory's sessions talk to."""
    bind = factory.kw.get("bind")
    return str(bind.dialect.name) if bind is not None else "sqlite"


class UnitOfWork:
    def __init__(self, factory: SessionFactory) -> None:
        self._factory = factory
        self._hooks: list[AfterCommit] = []
        self.session: AsyncSession

    async def __aenter__(self) -> UnitOfWork:
        self.session = self._factory()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                await self.commit()
            else:
                await self.session.rollback()
        finally:
            await self.session.close()

    def after_commit(self, hook: AfterCommit) -> None:
        self._hooks.append(hook)

    async def commit(self) -> None:
        await self.session.commit()
        hooks, self._hooks = self._hooks, []
        for hook in hooks:
            try:
                await hook()
            except Exception:  # a failed notification must not undo committed work
                log.exception("after-commit hook failed")
