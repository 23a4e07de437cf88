"""Winners become durable here, in small group commits, before anyone is told they won.

A batch of winners is written atomically: the claim rows, each buyer's `taken`, what the
`WonHook` adds (the orders feature: each claim's order) and the sale's `taken`. On PostgreSQL
that is one statement in autocommit (`persist_winners_pg`): one round trip. On SQLite it is
one transaction on a connection of its own, run at once (`SqliteWinners`). `WinnerWriter` is
the boundary that runs them: while a batch commits, the next winners wait and then go
together, so one commit carries many winners without any fixed delay. On PostgreSQL two
batches commit at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import NamedTuple

from sqlalchemy import TextClause, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from livecart.db.held import HeldConnections
from livecart.db.uow import SessionFactory, dialect_of
from livecart.features.sales.sqlite_winners import SqliteWinners

log = logging.getLogger(__name__)
# Winners per transaction. While one commits, the next queue up: at a sale's opening, winners
# come 512 per arbiter call, and two commits of up to 1,024 tell them sooner than four of 256.
MAX_BATCH = 1024

WARM_RUNS = 6  # see WinnerWriter.warm
RequestKey = tuple[int, int, str]  # sale, buyer, idempotency key
# Told once a claim's write ends: (its new id, None); (None, None) when the request was stored
# before; (None, the error) when it failed (ClaimRefused: a CHECK refused it).
Written = Callable[[int | None, BaseException | None], None]


class NewClaim(NamedTuple):
    """A reservation the arbiter granted, to be made durable. (A named tuple: made for every
    winner on the event loop, ~4× cheaper than a frozen dataclass.)"""

    sale_id: int
    buyer_id: int
    key: str
    quantity: int
    unit_price_minor: int
    buyer_limit: int
    expires_at: datetime
    created_at: datetime

    @property
    def request(self) -> RequestKey:
        return self.sale_id, self.buyer_id, self.key


@dataclass(frozen=True, slots=True)
class WonHook:
    """What another feature writes atomically with the winners (the orders feature: each
    claim's order), so that a claim never exists without it.

    `ctes_pg`: CTEs added to the winners' PostgreSQL statement, each `, name AS (...)`; they
    may read the CTE `claims` (id, sale_id, buyer_id, idempotency_key, quantity,
    unit_price_minor, expires_at, created_at: the claims inserted). `statements_sqlite`: the
    same in the winners' SQLite transaction, after the claims; each statement's one parameter
    (`?`) is the highest claim id before the batch (the batch's claims are those above it).
    `unmatched_sql`: for the reconciler, one row of named counts for `:sale_id` of what should
    be there and is not (e.g. a claim without its order)."""

    ctes_pg: str
    statements_sqlite: tuple[str, ...]
    unmatched_sql: str = ""


class ClaimRefused(Exception):
    """The database refused the claim (a CHECK: the arbiter was wrong); nothing was written."""


# PostgreSQL: the whole write of a batch is ONE statement, run outside an explicit transaction
# (a single statement is atomic): one round trip instead of BEGIN, four statements and COMMIT.
# At an opening the event loop turns every few milliseconds and each round trip waits for a
# turn, so the round trips, not the database, were most of a winner's wait (~25 ms for one).
# Its rows come as arrays (SQLAlchemy's executemany spent ~200 ms of Python on 1,000 rows).
# The claims that were inserted (not stored before) add their units to each buyer's `taken`,
# then to the sale's (after the buyers: `WHERE (SELECT count(*) FROM buyers) >= 0` makes it
# wait for them, so concurrent batches lock rows in one order: buyers sorted, then the sale).
# Their CHECKs refuse the whole statement if the arbiter was wrong. `{won}` is the WonHook's
# CTEs (the orders feature: each claim's order and its line), reading `claims`.
PERSIST_PG = """
WITH input AS (
  SELECT * FROM unnest(
    CAST(:sale_ids AS bigint[]), CAST(:buyer_ids AS bigint[]), CAST(:keys AS text[]),
    CAST(:quantities AS integer[]), CAST(:prices AS bigint[]), CAST(:limits AS integer[]),
    CAST(:expires AS timestamptz[]), CAST(:created AS timestamptz[])
  ) AS t(sale_id, buyer_id, idempotency_key, quantity, unit_price_minor, buyer_limit,
         expires_at, created_at)
), claims AS (
  INSERT INTO sale_claims (sale_id, buyer_id, idempotency_key, quantity, unit_price_minor,
                           status, expires_at, created_at)
  SELECT sale_id, buyer_id, idempotency_key, quantity, unit_price_minor, 'awaiting_payment',
         expires_at, created_at
  FROM input
  ON CONFLICT (sale_id, buyer_id, idempotency_key) DO NOTHING
  RETURNING id, sale_id, buyer_id, idempotency_key, quantity, unit_price_minor, expires_at,
            created_at
), buyers AS (
  INSERT INTO sale_buyers (sale_id, buyer_id, taken, buyer_limit)
  SELECT c.sale_id, c.buyer_id, sum(c.quantity), max(i.buyer_limit)
  FROM claims AS c JOIN input AS i USING (sale_id, buyer_id, idempotency_key)
  GROUP BY c.sale_id, c.buyer_id
  ORDER BY c.sale_id, c.buyer_id
  ON CONFLICT (sale_id, buyer_id) DO UPDATE SET taken = sale_buyers.taken + excluded.taken
  RETURNING 1
){won}, taken AS (
  UPDATE flash_sales AS f SET taken = f.taken + per_sale.units
  FROM (
    SELECT sale_id, sum(quantity) AS units FROM claims
    WHERE (SELECT count(*) FROM buyers) >= 0
    GROUP BY sale_id
  ) AS per_sale
  WHERE f.id = per_sale.sale_id
)
SELECT id, sale_id, buyer_id, idempotency_key FROM claims
"""


def persist_pg_statement(won_ctes: str = "") -> TextClause:
    """The winners' statement with the hook's CTEs (each `, name AS (...)`)."""
    return text(PERSIST_PG.replace("{won}", won_ctes))


async def persist_winners_pg(
    connection: AsyncConnection, statement: TextClause, claims: Sequence[NewClaim]
) -> dict[RequestKey, int]:
    """Write winning claims (and what the statement's hook adds) in one statement; in
    autocommit it is committed when this returns. Returns the new claim id of each request
    inserted (one stored before is skipped). Raises IntegrityError when a CHECK refuses: then
    nothing of it was written."""
    claims = sorted(claims, key=lambda c: c.request)
    rows = await connection.execute(
        statement,
        {
            "sale_ids": [c.sale_id for c in claims],
            "buyer_ids": [c.buyer_id for c in claims],
            "keys": [c.key for c in claims],
            "quantities": [c.quantity for c in claims],
            "prices": [c.unit_price_minor for c in claims],
            "limits": [c.buyer_limit for c in claims],
            "expires": [c.expires_at for c in claims],
            "created": [c.created_at for c in claims],
        },
    )
    return {(sale, buyer, key): claim_id for claim_id, sale, buyer, key in rows.all()}


class WinnerWriter:
    """Group commit of winners: `write` returns once the claim is committed. `concurrency`
    batches commit at once (each on its own connection)."""

    def __init__(
        self, factory: SessionFactory, *, max_batch: int = MAX_BATCH, concurrency: int = 1
    ) -> None:
        self._factory = factory
        self._max_batch = max_batch
        self._concurrency = concurrency
        self._hook: WonHook | None = None
        self._statement_pg = persist_pg_statement()
        # PostgreSQL: each commit slot's connection, kept while sales go on (no pool pings).
        self._held = HeldConnections(lambda: factory.kw["bind"])
        self._sqlite: SqliteWinners | None = None  # SQLite: its own connection
        self._pending: list[tuple[NewClaim, Written]] = []
        self._commits: set[asyncio.Task[None]] = set()
        self._kick_soon = False
        self._idle = asyncio.Event()
        self._idle.set()

    def add_hook(self, hook: WonHook) -> None:
        """What is written with every batch of winners, atomically (one hook: the orders)."""
        self._hook = hook
        self._statement_pg = persist_pg_statement(hook.ctes_pg)
        self._sqlite = None

    @property
    def busy(self) -> bool:
        """Winners are waiting to be written or being written."""
        return not self._idle.is_set()

    @property
    def hook(self) -> WonHook | None:
        return self._hook

    async def idle(self) -> None:
        """Returns when nothing is waiting to be written or being written."""
        await self._idle.wait()

    async def write(self, claim: NewClaim) -> int | None:
        """The new claim's id once committed; None when the request was stored before. Raises
        ClaimRefused when the database refuses it, or the database's error."""
        future: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self.submit(claim, partial(_settle, future))
        return await future

    def submit(self, claim: NewClaim, written: Written) -> None:
        """`write` without a task or a future: `written` is called when the commit ends, from
        the commit itself. (At an opening the event loop is crowded, and each future, task
        or callback scheduled between the commit and the answer costs a turn of it.)"""
        self._pending.append((claim, written))
        self._idle.clear()
        if not self._kick_soon:
            # After the other winners decided in this turn of the loop have joined.
            self._kick_soon = True
            asyncio.get_running_loop().call_soon(self._start_commits)

    def start_now(self) -> None:
        """Start committing the winners that wait, now: the caller knows no more come in this
        turn of the event loop (the end of an arbiter's batch, of a chunk of room buys). It
        saves `submit`'s turn, which at an opening is the whole read of every socket ready."""
        if self._pending:
            self._start_commits()

    def _start_commits(self) -> None:
        """What waits is shared evenly by the free commit slots (up to max_batch each)."""
        self._kick_soon = False
        loop = asyncio.get_running_loop()
        while self._pending and len(self._commits) < self._concurrency:
            free = self._concurrency - len(self._commits)
            size = min(self._max_batch, -(-len(self._pending) // free))
            batch = self._pending[:size]
            del self._pending[:size]
            task = loop.create_task(self._commit(batch))
            self._commits.add(task)
            task.add_done_callback(self._committed)

    def _committed(self, task: asyncio.Task[None]) -> None:
        self._commits.discard(task)
        self._start_commits()
        if not self._commits and not self._pending:
            self._idle.set()

    async def _commit(self, batch: list[tuple[NewClaim, Written]]) -> None:
        try:
            ids = await self._persist([c for c, _ in batch])
        except IntegrityError:
            # Some claim broke a CHECK: find it by writing each alone; the others go through.
            for claim, written in batch:
                try:
                    one = await self._persist([claim])
                except IntegrityError:
                    _tell(written, None, ClaimRefused(claim.request))
                except Exception as exc:
                    _tell(written, None, exc)
                else:
                    _tell(written, one.get(claim.request), None)
            return
        except Exception as exc:
            log.exception("writing %d winners failed", len(batch))
            for _, written in batch:
                _tell(written, None, exc)
            return
        for claim, written in batch:
            _tell(written, ids.get(claim.request), None)

    async def _persist(self, claims: list[NewClaim]) -> dict[RequestKey, int]:
        if dialect_of(self._factory) == "postgresql":
            return await self._held.run(
                lambda connection: persist_winners_pg(connection, self._statement_pg, claims)
            )
        if self._sqlite is None:
            path = self._factory.kw["bind"].url.database
            hook = self._hook.statements_sqlite if self._hook is not None else ()
            self._sqlite = SqliteWinners(path, hook)
        return await self._sqlite.persist(claims)

    async def warm(self) -> None:
        """Before a sale opens (PostgreSQL): each commit slot's connection runs the winners'
        statement with no rows, WARM_RUNS times, so none is opened, prepared or planned while
        winners wait: PostgreSQL plans a prepared statement anew for each of its first five
        runs (~1–3 ms here for this one), then settles on one plan. Writes nothing."""
        if dialect_of(self._factory) != "postgresql":
            return

        async def runs(connection: AsyncConnection) -> None:
            for _ in range(WARM_RUNS):
                await persist_winners_pg(connection, self._statement_pg, [])

        await asyncio.gather(*(self._held.run(runs) for _ in range(self._concurrency)))

    async def close(self) -> None:
        if self._commits:
            await asyncio.wait(list(self._commits), timeout=5)
        await self._held.close()
        sqlite, self._sqlite = self._sqlite, None
        if sqlite is not None:
            sqlite.close()


def _tell(written: Written, claim_id: int | None, exc: BaseException | None) -> None:
    try:
        written(claim_id, exc)
    except Exception:
        log.exception("answering a written claim failed")


def _settle(
    future: asyncio.Future[int | None], claim_id: int | None, exc: BaseException | None
) -> None:
    if future.done():  # the caller went away (its connection closed)
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(claim_id)
