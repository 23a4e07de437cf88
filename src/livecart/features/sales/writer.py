"""Winners become durable here, in small group commits, before anyone is told they won.

A batch of winners is written atomically: the claim rows, each buyer's `taken` and the sale's
`taken`. On PostgreSQL that is one statement in autocommit (`persist_winners_pg`): one round
trip. On SQLite it is one transaction on a connection of its own, run at once
(`SqliteWinners`), which also writes what the `WonHook` adds (the orders feature: each claim's
order). On PostgreSQL the hook's statement runs after the winners are answered, once no winner
waits (`WonHook.after_pg`): the claim is the promise, its order is derived from it, and a crash
in between is repaired by the orders feature's sweep. `WinnerWriter` is the boundary that runs
them: while a batch commits, the next winners wait and then go together, so one commit carries
many winners without any fixed delay. On PostgreSQL two batches commit at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, NamedTuple

from sqlalchemy import text
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
    """What another feature writes for every winner (the orders feature: each claim's order).

    `after_pg`: on PostgreSQL, one statement whose parameter `:ids` (bigint[]) lists claims
    just committed, run after their winners were answered and while no winner waits; it must
    skip what was written before (it may run twice, and a sweep of its feature repairs what a
    crash left undone). Each winner's PostgreSQL commit is then only its claim: about 40 % less
    work for the database while winners wait (docs/benchmarks.md, session 10).
    `statements_sqlite`: in the winners' SQLite transaction, after the claims; each statement's
    one parameter (`?`) is the highest claim id before the batch (the batch's claims are those
    above it). `unmatched_sql`: for the reconciler, one row of named counts for `:sale_id` of
    what should be there and is not (e.g. a claim without its order)."""

    after_pg: str
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
# Their CHECKs refuse the whole statement if the arbiter was wrong.
PERSIST_PG = text("""
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
), taken AS (
  UPDATE flash_sales AS f SET taken = f.taken + per_sale.units
  FROM (
    SELECT sale_id, sum(quantity) AS units FROM claims
    WHERE (SELECT count(*) FROM buyers) >= 0
    GROUP BY sale_id
  ) AS per_sale
  WHERE f.id = per_sale.sale_id
)
SELECT id, sale_id, buyer_id, idempotency_key FROM claims
""")
# The hook's follow-up (`after_pg`) waits until no winner has been written for this long: at an
# opening the winners come for ~100 ms, and run between their commits it took PostgreSQL's time
# from them (session 10: no faster than writing the orders with the claims). At most MAX_FOLLOW
# claims wait; beyond that they are written as soon as a commit slot is free.
FOLLOW_QUIET_SECS = 0.1
MAX_FOLLOW = 4 * MAX_BATCH


async def persist_winners_pg(
    connection: AsyncConnection, claims: Sequence[NewClaim]
) -> dict[RequestKey, int]:
    """Write winning claims in one statement; in autocommit it is committed when this returns.
    Returns the new claim id of each request inserted (one stored before is skipped). Raises
    IntegrityError when a CHECK refuses: then nothing of it was written."""
    claims = sorted(claims, key=lambda c: c.request)
    rows = await connection.execute(
        PERSIST_PG,
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
        self._follow: list[int] = []  # PostgreSQL: claims committed, their hook's rows not yet
        self._following: asyncio.Task[None] | None = None
        self._quiet: asyncio.TimerHandle | None = None
        self._last_commit = 0.0  # loop time a winners' commit last ended
        # PostgreSQL: each commit slot's connection, kept while sales go on (no pool pings).
        self._held = HeldConnections(lambda: factory.kw["bind"])
        self._sqlite: SqliteWinners | None = None  # SQLite: its own connection
        self._pending: list[tuple[NewClaim, Written]] = []
        self._commits: set[asyncio.Task[None]] = set()
        self._kick_soon = False
        self._idle = asyncio.Event()
        self._idle.set()

    def add_hook(self, hook: WonHook) -> None:
        """What is written for every batch of winners (one hook: the orders)."""
        self._hook = hook
        self._sqlite = None

    @property
    def busy(self) -> bool:
        """Winners are waiting to be written or being written."""
        return bool(self._pending) or any(t is not self._following for t in self._commits)

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
        """What waits is shared evenly by the free commit slots (up to max_batch each). The
        hook's follow-up goes when no winner waits and no other commit runs (or too many wait
        for it)."""
        self._kick_soon = False
        while self._pending and len(self._commits) < self._concurrency:
            free = self._concurrency - len(self._commits)
            size = min(self._max_batch, -(-len(self._pending) // free))
            batch = self._pending[:size]
            del self._pending[:size]
            self._run(self._commit(batch))
        if not self._follow or self._pending or len(self._commits) >= self._concurrency:
            return
        if len(self._follow) >= MAX_FOLLOW:
            self._start_follow_up()
        elif not self._commits and self._quiet is None:
            self._quiet = asyncio.get_running_loop().call_later(
                FOLLOW_QUIET_SECS, self._follow_when_quiet
            )

    def _follow_when_quiet(self) -> None:
        self._quiet = None
        if not self._follow or self._pending or self._commits:
            return  # the commit running calls _start_commits when it ends
        loop = asyncio.get_running_loop()
        wait = self._last_commit + FOLLOW_QUIET_SECS - loop.time()
        if wait > 0:  # a winners' commit ended since the timer was set
            self._quiet = loop.call_later(wait, self._follow_when_quiet)
            return
        self._start_follow_up()

    def _start_follow_up(self) -> None:
        if self._quiet is not None:
            self._quiet.cancel()
            self._quiet = None
        ids, self._follow = self._follow, []
        self._following = self._run(self._follow_up(ids))

    def _run(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(work)
        self._commits.add(task)
        task.add_done_callback(self._committed)
        return task

    def _committed(self, task: asyncio.Task[None]) -> None:
        self._commits.discard(task)
        if task is self._following:
            self._following = None
        else:
            self._last_commit = asyncio.get_running_loop().time()
        self._start_commits()
        if not self._commits and not self._pending and not self._follow:
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
                    self._to_follow(one)
            return
        except Exception as exc:
            log.exception("writing %d winners failed", len(batch))
            for _, written in batch:
                _tell(written, None, exc)
            return
        for claim, written in batch:
            _tell(written, ids.get(claim.request), None)
        self._to_follow(ids)

    def _to_follow(self, ids: dict[RequestKey, int]) -> None:
        if ids and self._hook is not None and dialect_of(self._factory) == "postgresql":
            self._follow.extend(ids.values())

    async def _follow_up(self, claim_ids: list[int]) -> None:
        """The hook's rows for claims already committed and answered (PostgreSQL). A failure
        is logged and left to the hook's feature to repair (its sweep): the claims stand."""
        assert self._hook is not None
        statement = text(self._hook.after_pg)
        try:
            await self._held.run(
                lambda connection: connection.execute(statement, {"ids": claim_ids})
            )
        except Exception:
            log.exception("writing what follows %d claims failed; the sweep will", len(claim_ids))

    async def _persist(self, claims: list[NewClaim]) -> dict[RequestKey, int]:
        if dialect_of(self._factory) == "postgresql":
            return await self._held.run(lambda connection: persist_winners_pg(connection, claims))
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
                await persist_winners_pg(connection, [])
                if self._hook is not None:
                    await connection.execute(text(self._hook.after_pg), {"ids": []})

        await asyncio.gather(*(self._held.run(runs) for _ in range(self._concurrency)))

    async def close(self) -> None:
        if self._commits:
            await asyncio.wait(list(self._commits), timeout=5)
        if self._quiet is not None:
            self._quiet.cancel()
            self._quiet = None
        if self._follow:  # not left to the sweep: written now
            ids, self._follow = self._follow, []
            await self._follow_up(ids)
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
