"""Portable INSERT ... ON CONFLICT DO NOTHING for the backends we run on."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


async def insert_if_absent(session: AsyncSession, model: type[Any], **values: Any) -> bool:
    """Insert the row unless one with the same key exists; True when it was inserted.

    Atomic in the database, so concurrent callers cannot both insert (or both fail)."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    result = await session.execute(insert(model).values(**values).on_conflict_do_nothing())
    return bool(getattr(result, "rowcount", 0))
