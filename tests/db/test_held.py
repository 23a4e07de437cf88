"""Connections a hot path keeps between its single statements: reused, dropped when broken,
kept when only a constraint refused, handed back to the pool when idle."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from livecart.db.held import HeldConnections


async def backend_pid(connection: AsyncConnection) -> object:
    """Which server connection this is (SQLite: the DBAPI connection object)."""
    if connection.dialect.name == "postgresql":
        return await connection.scalar(text("SELECT pg_backend_pid()"))
    raw = await connection.get_raw_connection()
    return id(raw.driver_connection)


async def test_a_kept_connection_is_reused_and_commits_each_statement(
    session_app: FastAPI,
) -> None:
    engine = session_app.state.engine
    held = HeldConnections(lambda: engine)
    try:
        first = await held.run(backend_pid)
        assert held.kept == 1
        assert await held.run(backend_pid) == first
        await held.run(lambda c: c.execute(text("CREATE TABLE held_probe (n INTEGER UNIQUE)")))
        await held.run(lambda c: c.execute(text("INSERT INTO held_probe VALUES (1)")))
        # Autocommit: another connection sees the row at once.
        async with engine.connect() as other:
            assert await other.scalar(text("SELECT count(*) FROM held_probe")) == 1

        # A constraint refusing the statement leaves the connection usable: it is kept.
        with pytest.raises(IntegrityError):
            await held.run(lambda c: c.execute(text("INSERT INTO held_probe VALUES (1)")))
        assert held.kept == 1 and await held.run(backend_pid) == first

        # Any other failure: the connection is not used again.
        with pytest.raises(Exception, match="no_such_table"):
            await held.run(lambda c: c.execute(text("SELECT * FROM no_such_table")))
        assert held.kept == 0
        assert await held.run(backend_pid) is not None
        assert held.kept == 1
    finally:
        await held.run(lambda c: c.execute(text("DROP TABLE IF EXISTS held_probe")))
        await held.close()
    assert held.kept == 0


async def test_an_idle_connection_goes_back_to_the_pool(session_app: FastAPI) -> None:
    held = HeldConnections(lambda: session_app.state.engine, idle_secs=0.05)
    await held.run(backend_pid)
    assert held.kept == 1
    for _ in range(100):
        if held.kept == 0:
            break
        await asyncio.sleep(0.02)
    assert held.kept == 0
    await held.close()
