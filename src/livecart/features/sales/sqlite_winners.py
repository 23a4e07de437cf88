"""SQLite's winners' transaction, on a connection of its own, without leaving the event loop.

Through the async session a batch was a dozen statements, each a hop to aiosqlite's thread and
back and each waiting for a turn of an event loop that, at a sale's opening, is busy reading
thousands of attempts (319 winners took ~55 ms, one winner alone ~25 ms). Here the whole
transaction runs at once, in C (`executemany`): BEGIN IMMEDIATE, the claims, each buyer's
`taken`, the hook's statements (the orders feature: each claim's order and line), the sale's
`taken`, COMMIT — ~2 ms for 200 winners. Atomic as before, and the same CHECKs refuse the
whole batch if the arbiter was wrong. The PostgreSQL path is `persist_winners_pg`.

It runs on the event loop's thread, not in a worker thread: a worker thread needs the GIL
back after each step of SQLite, and while the loop is busy with a burst it waits up to the
switch interval (5 ms) each time — 424 winners took 125 ms that way. The loop never waits for
another writer: BEGIN IMMEDIATE is tried without a busy timeout and, while another connection
holds SQLite's write lock, tried again after a short sleep. This connection never
checkpoints the WAL (`wal_autocheckpoint=0`: that would be an fsync on the loop); the
application's other connections do.

The claims a batch inserted are those with an id above the highest before it: the transaction
holds SQLite's write lock, and an INTEGER PRIMARY KEY takes the next id up. The hook's
statements are given that id as their one parameter.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.exc import IntegrityError

from livecart.db.base import UtcDateTime
from livecart.db.engine import SQLITE_BUSY_TIMEOUT_MS

if TYPE_CHECKING:
    from livecart.features.sales.writer import NewClaim, RequestKey

INSERT_CLAIMS = """
INSERT INTO sale_claims (sale_id, buyer_id, idempotency_key, quantity, unit_price_minor, status,
                         expires_at, created_at)
VALUES (?, ?, ?, ?, ?, 'awaiting_payment', ?, ?)
ON CONFLICT (sale_id, buyer_id, idempotency_key) DO NOTHING
"""
HIGHEST_CLAIM = "SELECT coalesce(max(id), 0) FROM sale_claims"
NEW_CLAIMS = "SELECT id, sale_id, buyer_id, idempotency_key FROM sale_claims WHERE id > ?"
ADD_TO_BUYERS = """
INSERT INTO sale_buyers (sale_id, buyer_id, taken, buyer_limit) VALUES (?, ?, ?, ?)
ON CONFLICT (sale_id, buyer_id) DO UPDATE SET taken = sale_buyers.taken + excluded.taken
"""
ADD_TO_SALE = "UPDATE flash_sales SET taken = taken + ? WHERE id = ?"

# As the ORM stores them (UtcDateTime on SQLite: naive UTC text), so both read back alike.
BUSY_RETRY_SECS = 0.002
_dialect = sqlite_dialect.dialect()
_stored_time = UtcDateTime().dialect_impl(_dialect).bind_processor(_dialect)


def stored_time(value: datetime) -> object:
    return _stored_time(value) if _stored_time is not None else value


class SqliteWinners:
    """Writes batches of winners to the SQLite file at `path`, one batch at a time."""

    def __init__(self, path: str | None, hook_statements: Sequence[str] = ()) -> None:
        if not path or path == ":memory:" or path.startswith("file::memory:"):
            # A connection of its own would open another, empty database.
            raise ValueError("flash sales on SQLite need a database file, not an in-memory one")
        self.path = path
        self.hook_statements = tuple(hook_statements)
        self._connection: sqlite3.Connection | None = None

    async def persist(self, claims: Sequence[NewClaim]) -> dict[RequestKey, int]:
        """The new claim id of each request inserted (one stored before is absent). Raises
        IntegrityError when a CHECK refuses: then nothing of the batch was written."""
        rows: list[tuple[object, ...]] = [
            (
                c.sale_id,
                c.buyer_id,
                c.key,
                c.quantity,
                c.unit_price_minor,
                stored_time(c.expires_at),
                stored_time(c.created_at),
            )
            for c in sorted(claims, key=lambda c: c.request)
        ]
        limits = {(c.sale_id, c.buyer_id): c.buyer_limit for c in claims}
        quantities = {c.request: c.quantity for c in claims}
        connection = self._connect()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SQLITE_BUSY_TIMEOUT_MS / 1000
        while not _begin(connection):
            if loop.time() > deadline:
                raise sqlite3.OperationalError("database is locked (the winners' transaction)")
            await asyncio.sleep(BUSY_RETRY_SECS)
        return self._write(connection, rows, limits, quantities)

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            # isolation_level=None: no implicit transactions; BEGIN and COMMIT are ours.
            # timeout=0: never wait for a lock on the loop's thread (see `persist`).
            connection = sqlite3.connect(self.path, isolation_level=None, timeout=0)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA wal_autocheckpoint=0")
            self._connection = connection
        return self._connection

    def _write(
        self,
        connection: sqlite3.Connection,
        rows: list[tuple[object, ...]],
        limits: dict[tuple[int, int], int],
        quantities: dict[RequestKey, int],
    ) -> dict[RequestKey, int]:
        """The batch, in the transaction `_begin` opened; committed or rolled back here."""
        try:
            (before,) = connection.execute(HIGHEST_CLAIM).fetchone()
            connection.executemany(INSERT_CLAIMS, rows)
            inserted: dict[RequestKey, int] = {
                (sale, buyer, key): claim_id
                for claim_id, sale, buyer, key in connection.execute(NEW_CLAIMS, (before,))
            }
            per_buyer: dict[tuple[int, int], int] = {}
            per_sale: dict[int, int] = {}
            for request in inserted:
                sale, buyer, _ = request
                per_buyer[(sale, buyer)] = per_buyer.get((sale, buyer), 0) + quantities[request]
                per_sale[sale] = per_sale.get(sale, 0) + quantities[request]
            connection.executemany(
                ADD_TO_BUYERS,
                [(s, b, units, limits[(s, b)]) for (s, b), units in sorted(per_buyer.items())],
            )
            if inserted:
                for statement in self.hook_statements:
                    connection.execute(statement, (before,))
            connection.executemany(ADD_TO_SALE, [(u, s) for s, u in sorted(per_sale.items())])
            connection.execute("COMMIT")
        except sqlite3.IntegrityError as exc:
            connection.execute("ROLLBACK")
            raise IntegrityError("the winners' transaction", None, exc) from exc
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        return inserted

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _begin(connection: sqlite3.Connection) -> bool:
    """Take SQLite's write lock now, or say another connection holds it."""
    try:
        connection.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if exc.sqlite_errorcode in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            return False
        raise
    return True
