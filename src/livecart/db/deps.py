"""The request boundary: one unit of work per request, committed before the response is sent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request

from livecart.db.uow import UnitOfWork


async def get_uow(request: Request) -> AsyncIterator[UnitOfWork]:
    async with UnitOfWork(request.app.state.session_factory) as uow:
        yield uow


# scope="function": the commit runs when the endpoint returns, before the response goes out, so a
# client never sees success for work that was not committed.
UowDep = Annotated[UnitOfWork, Depends(get_uow, scope="function")]
