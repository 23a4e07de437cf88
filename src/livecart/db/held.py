"""Autocommit connections kept open between statements, for a hot path of single statements.

The pool pings every connection it hands out (`pool_pre_ping`: with asyncpg that is BEGIN, a
query and ROLLBACK, three round trips) and each round trip waits for a turn of a busy event loop.
A flash sale's writer runs one statement per batch of winners, many a second: it keeps its
connections here instead, pinged once when opened and closed after `idle_secs` without use.
A connection that failed in any way but a constraint refusing the statement is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)
T = TypeVar("T")


class HeldConnections:
    def __init__(self, engine: Callable[[], AsyncEngine], *, idle_secs: float = 30.0) -> None:
        self._engine = engine  # called when a connection is first needed
        self._idle_secs = idle_secs
        self._free: list[AsyncConnection] = []
        self._timer: asyncio.TimerHandle | None = None
        self._closing: set[asyncio.Task[None]] = set()

    @property
    def kept(self) -> int:
        return len(self._free)

    async def run(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """`work` on a kept connection (or a new one), in autocommit: each statement is
        committed when it ends."""
        connection = self._free.pop() if self._free else await self._open()
        try:
            result = await work(connection)
        except IntegrityError:  # refused by a constraint: the connection is fine
            self._keep(connection)
            raise
        except BaseException:  # broken, cancelled mid-statement, unknown: not used again
            await _drop(connection, broken=True)
            raise
        self._keep(connection)
        return result

    async def close(self) -> None:
        await self._give_back()
        if self._closing:
            await asyncio.wait(list(self._closing), timeout=5)

    async def _give_back(self) -> None:
        """The kept connections go back to the pool."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        free, self._free = self._free, []
        for connection in free:
            await _drop(connection, broken=False)

    async def _open(self) -> AsyncConnection:
        engine = self._engine().execution_options(isolation_level="AUTOCOMMIT")
        return await engine.connect()

    def _keep(self, connection: AsyncConnection) -> None:
        self._free.append(connection)
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(self._idle_secs, self._idle)

    def _idle(self) -> None:
        self._timer = None
        task = asyncio.get_running_loop().create_task(self._give_back())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)


async def _drop(connection: AsyncConnection, *, broken: bool) -> None:
    with contextlib.suppress(Exception):
        if broken:  # not back into the pool
            await connection.invalidate()
        await connection.close()
