"""The Alembic migrations build exactly the schema the models describe, and go down and up again."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from livecart.config import Settings
from livecart.db.base import Base
from livecart.db.engine import make_engine
from livecart.migrations.run import downgrade, upgrade
from tests.conftest import BACKEND, psql


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


@pytest.fixture
def scratch_url(tmp_path: Path, database_url: str) -> Iterator[str]:
    """An empty database of the backend under test, apart from the shared test database."""
    if BACKEND == "sqlite":
        yield Settings(database_url=f"sqlite:///{tmp_path / 'scratch.db'}").resolved_database_url
        return
    name = f"livecart_mig_{uuid.uuid4().hex[:8]}"
    psql(f'CREATE DATABASE "{name}"')
    try:
        url = database_url.rsplit("/", 1)[0] + f"/{name}"
        yield Settings(database_url=url).resolved_database_url
    finally:
        psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _inspect(url: str) -> tuple[list[object], set[str]]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_diff), await conn.run_sync(_tables)
    finally:
        await engine.dispose()


def test_migrations_match_models_and_round_trip(scratch_url: str) -> None:
    # Sync on purpose: Alembic's env runs its own event loop.
    upgrade(scratch_url)
    diff, _ = asyncio.run(_inspect(scratch_url))
    assert diff == []
    downgrade(scratch_url, "base")
    _, tables = asyncio.run(_inspect(scratch_url))
    assert tables <= {"alembic_version"}
    upgrade(scratch_url)
    _, tables = asyncio.run(_inspect(scratch_url))
    assert {t.name for t in Base.metadata.sorted_tables} <= tables
