"""The unit of work commits at the boundary and only then runs after-commit hooks."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from livecart.db.uow import UnitOfWork
from livecart.features.accounts.models import Merchant


async def count_merchants(app: FastAPI) -> int:
    async with app.state.session_factory() as session:
        return int(await session.scalar(select(func.count()).select_from(Merchant)) or 0)


async def test_hooks_run_after_commit_and_see_committed_data(app: FastAPI) -> None:
    seen: list[int] = []
    before = await count_merchants(app)  # other suites' servers may share the database

    async def hook() -> None:
        seen.append(await count_merchants(app))  # a separate connection sees the commit

    async with UnitOfWork(app.state.session_factory) as uow:
        uow.session.add(Merchant(name="Shop"))
        uow.after_commit(hook)
        assert seen == []
    assert seen == [before + 1]


async def test_failure_rolls_back_and_skips_hooks(app: FastAPI) -> None:
    ran: list[str] = []
    before = await count_merchants(app)

    async def hook() -> None:
        ran.append("hook")

    with pytest.raises(RuntimeError):
        async with UnitOfWork(app.state.session_factory) as uow:
            uow.session.add(Merchant(name="Shop"))
            await uow.session.flush()
            uow.after_commit(hook)
            raise RuntimeError("boom")
    assert ran == []
    assert await count_merchants(app) == before


async def test_a_failing_hook_does_not_undo_the_commit(app: FastAPI) -> None:
    before = await count_merchants(app)

    async def broken() -> None:
        raise ValueError("notification failed")

    async with UnitOfWork(app.state.session_factory) as uow:
        uow.session.add(Merchant(name="Shop"))
        uow.after_commit(broken)
    assert await count_merchants(app) == before + 1
