"""The winners' writer: group commits (two at once on PostgreSQL), one order per claim (on
PostgreSQL written after the winners are answered, and by the sweep after a crash), a CHECK
refusal that touches only its own claim, and a warm-up that writes nothing."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from datetime import timedelta
from functools import partial

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, text

from livecart.bench.flashsale import make_buyers
from livecart.db.uow import UnitOfWork, dialect_of
from livecart.features.orders import jobs as order_jobs
from livecart.features.orders.models import Order, OrderItem
from livecart.features.orders.repository import OrdersRepository
from livecart.features.sales.models import FlashSale, SaleBuyer, SaleClaim
from livecart.features.sales.writer import (
    FOLLOW_QUIET_SECS,
    ClaimRefused,
    NewClaim,
    WinnerWriter,
    WonHook,
    persist_winners_pg,
)
from livecart.kit.clock import utcnow
from tests.roomkit import live_show
from tests.sales.conftest import open_sale


def claim_for(sale_id: int, buyer_id: int, *, key: str | None = None, limit: int = 1) -> NewClaim:
    now = utcnow()
    return NewClaim(
        sale_id=sale_id,
        buyer_id=buyer_id,
        key=key or uuid.uuid4().hex,
        quantity=1,
        unit_price_minor=1990,
        buyer_limit=limit,
        expires_at=now + timedelta(minutes=5),
        created_at=now,
    )


async def new_buyers(session_app: FastAPI, database_url: str, count: int) -> list[int]:
    await make_buyers(database_url, count)
    async with session_app.state.session_factory() as session:
        rows = await session.execute(text(f"SELECT id FROM users ORDER BY id DESC LIMIT {count}"))
        return [row[0] for row in rows]


async def writer_and_sale(
    client: httpx.AsyncClient, session_app: FastAPI, units: int
) -> tuple[WinnerWriter, int]:
    """The app's own writer, and a new sale of `units` (one per buyer)."""
    show = await live_show(client)
    sale = await open_sale(client, show, units=units, per_buyer_limit=1)
    return session_app.state.sale_gate.writer, int(sale["id"])


async def counts(session_app: FastAPI, sale_id: int) -> tuple[int, int, int, int, int]:
    async with session_app.state.session_factory() as session:
        taken = await session.scalar(select(FlashSale.taken).where(FlashSale.id == sale_id))
        claims = await session.scalar(
            select(func.count()).select_from(SaleClaim).where(SaleClaim.sale_id == sale_id)
        )
        held = await session.scalar(
            select(func.coalesce(func.sum(SaleBuyer.taken), 0)).where(SaleBuyer.sale_id == sale_id)
        )
        orders = await session.scalar(
            select(func.count()).select_from(Order).where(Order.sale_id == sale_id)
        )
        items = await session.scalar(
            select(func.count())
            .select_from(OrderItem)
            .join(Order, Order.id == OrderItem.order_id)
            .where(Order.sale_id == sale_id)
        )
    return int(taken or 0), int(claims or 0), int(held or 0), int(orders or 0), int(items or 0)


async def test_many_winners_at_once_each_get_one_claim_and_one_order(
    client: httpx.AsyncClient, session_app: FastAPI, database_url: str
) -> None:
    writer: WinnerWriter = session_app.state.sale_gate.writer
    expected = 2 if dialect_of(session_app.state.session_factory) == "postgresql" else 1
    assert writer._concurrency == expected
    show = await live_show(client)
    sale = await open_sale(client, show, units=300, per_buyer_limit=1)
    buyers = await new_buyers(session_app, database_url, 240)

    ids = await asyncio.gather(*(writer.write(claim_for(sale["id"], b)) for b in buyers))
    assert None not in ids and len(set(ids)) == len(buyers)
    await writer.idle()  # PostgreSQL: the orders are written after the answers
    assert await counts(session_app, sale["id"]) == (240, 240, 240, 240, 240)
    async with session_app.state.session_factory() as session:
        orders = (await session.execute(select(Order).where(Order.sale_id == sale["id"]))).scalars()
        by_claim = {o.claim_id: o for o in orders}
    assert set(by_claim) == set(ids)
    order = by_claim[ids[0]]
    assert (order.source, order.status, order.total_minor, order.request_key) == (
        "live",
        "awaiting_payment",
        1990,
        f"sale:{ids[0]}",
    )
    await writer.idle()


async def test_a_refused_claim_does_not_take_its_batch_down(
    client: httpx.AsyncClient, session_app: FastAPI, database_url: str
) -> None:
    writer, sale_id = await writer_and_sale(client, session_app, 50)
    buyers = await new_buyers(session_app, database_url, 30)
    greedy = buyers[0]
    assert await writer.write(claim_for(sale_id, greedy)) is not None

    # The arbiter (wrongly) granted `greedy` a second unit: the database's CHECK refuses it.
    claims = [claim_for(sale_id, b) for b in buyers[1:]] + [claim_for(sale_id, greedy)]
    results = await asyncio.gather(*(writer.write(c) for c in claims), return_exceptions=True)
    assert isinstance(results[-1], ClaimRefused)
    assert all(isinstance(r, int) for r in results[:-1])
    await writer.idle()
    assert await counts(session_app, sale_id) == (30, 30, 30, 30, 30)


async def test_a_request_stored_before_is_not_written_again(
    client: httpx.AsyncClient, session_app: FastAPI, database_url: str
) -> None:
    writer, sale_id = await writer_and_sale(client, session_app, 5)
    (buyer,) = await new_buyers(session_app, database_url, 1)
    first = claim_for(sale_id, buyer, key="the-same-key-1")
    assert isinstance(await writer.write(first), int)
    assert await writer.write(first) is None
    await writer.idle()
    assert await counts(session_app, sale_id) == (1, 1, 1, 1, 1)


async def test_warming_up_writes_nothing(
    client: httpx.AsyncClient, session_app: FastAPI, database_url: str
) -> None:
    writer, sale_id = await writer_and_sale(client, session_app, 5)
    await writer.warm()
    assert await counts(session_app, sale_id) == (0, 0, 0, 0, 0)
    (buyer,) = await new_buyers(session_app, database_url, 1)
    assert isinstance(await writer.write(claim_for(sale_id, buyer)), int)


@pytest.mark.parametrize("concurrency", [1, 2, 3])
async def test_waiting_winners_are_shared_by_the_free_slots(concurrency: int) -> None:
    """No database: the slots' batch sizes alone (the writer's persist is replaced)."""
    writer = WinnerWriter(None, concurrency=concurrency)  # type: ignore[arg-type]
    sizes: list[int] = []
    gate = asyncio.Event()

    async def persist(claims: list[NewClaim]) -> dict[tuple[int, int, str], int]:
        sizes.append(len(claims))
        await gate.wait()
        return {c.request: i for i, c in enumerate(claims, 1)}

    writer._persist = persist  # type: ignore[method-assign]
    writes = [asyncio.ensure_future(writer.write(claim_for(1, b))) for b in range(10)]
    await asyncio.sleep(0.01)
    gate.set()
    await asyncio.gather(*writes)
    await writer.idle()
    # All ten waited together: one batch per slot, shared evenly.
    assert len(sizes) == concurrency and sum(sizes) == 10
    assert max(sizes) - min(sizes) <= 1


async def test_submit_tells_each_claim_from_the_commit() -> None:
    """No database: `submit`'s callbacks get (id, None) for an inserted claim and (None, None)
    for one stored before, from the commit itself; one callback that raises does not keep the
    others from being told."""
    writer = WinnerWriter(None)  # type: ignore[arg-type]
    claims = [claim_for(1, b) for b in range(4)]

    async def persist(batch: list[NewClaim]) -> dict[tuple[int, int, str], int]:
        return {c.request: 100 + i for i, c in enumerate(batch) if c.buyer_id != 2}

    writer._persist = persist  # type: ignore[method-assign]
    told: dict[int, tuple[int | None, BaseException | None]] = {}

    def written(buyer: int, claim_id: int | None, exc: BaseException | None) -> None:
        told[buyer] = (claim_id, exc)
        if buyer == 0:
            raise RuntimeError("a broken answer")

    for c in claims:
        writer.submit(c, lambda i, e, b=c.buyer_id: written(b, i, e))
    await writer.idle()
    assert told == {0: (100, None), 1: (101, None), 2: (None, None), 3: (103, None)}


async def test_submit_tells_the_database_error() -> None:
    writer = WinnerWriter(None)  # type: ignore[arg-type]

    async def persist(batch: list[NewClaim]) -> dict[tuple[int, int, str], int]:
        raise OSError("the database went away")

    writer._persist = persist  # type: ignore[method-assign]
    told: list[tuple[int | None, BaseException | None]] = []
    writer.submit(claim_for(1, 1), lambda i, e: told.append((i, e)))
    await writer.idle()
    assert len(told) == 1 and told[0][0] is None and isinstance(told[0][1], OSError)


async def test_winners_wait_for_another_writer_while_the_loop_goes_on(
    client: httpx.AsyncClient, session_app: FastAPI, database_url: str
) -> None:
    """Another transaction holds the lock the winners need (SQLite's write lock; the sale's row
    on PostgreSQL): the batch waits without stopping the event loop, then commits whole."""
    writer, sale_id = await writer_and_sale(client, session_app, 5)
    (buyer,) = await new_buyers(session_app, database_url, 1)
    factory = session_app.state.session_factory
    if dialect_of(factory) == "sqlite":
        other = sqlite3.connect(factory.kw["bind"].url.database, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        release = partial(other.execute, "ROLLBACK")
    else:
        session = factory()
        await session.execute(
            text("SELECT id FROM flash_sales WHERE id = :id FOR UPDATE"), {"id": sale_id}
        )
        release = session.rollback
    claim = claim_for(sale_id, buyer)
    write = asyncio.create_task(writer.write(claim))
    turns = 0
    for _ in range(20):  # the loop turns while the batch waits for the lock
        await asyncio.sleep(0.005)
        turns += 1
    assert turns == 20 and not write.done()

    result = release()
    if asyncio.iscoroutine(result):
        await result
    claim_id = await asyncio.wait_for(write, 10)
    assert isinstance(claim_id, int)
    await writer.idle()
    assert await counts(session_app, sale_id) == (1, 1, 1, 1, 1)
    async with factory() as session:
        order = (
            await session.execute(select(Order).where(Order.claim_id == claim_id))
        ).scalar_one()
        item = (
            await session.execute(select(OrderItem).where(OrderItem.order_id == order.id))
        ).scalar_one()
        stored = await session.get(SaleClaim, claim_id)
    assert stored is not None
    # Times read back as the aware UTC instants written, on both backends.
    assert (stored.expires_at, order.expires_at) == (claim.expires_at, claim.expires_at)
    assert (order.buyer_id, order.total_minor, item.quantity) == (buyer, 1990, 1)
    assert item.title and isinstance(item.options, dict)


async def test_start_now_commits_the_waiting_winners_before_the_loop_turns() -> None:
    """No database. `start_now` (an arbiter's batch is told, a chunk of room buys is decided):
    the winners waiting go into a commit at once; one submitted after it goes in the next
    batch. Without it, all three would have waited for the loop's turn and gone together."""
    writer = WinnerWriter(None, concurrency=1)  # type: ignore[arg-type]
    batches: list[list[int]] = []
    release = asyncio.Event()

    async def persist(claims: list[NewClaim]) -> dict[tuple[int, int, str], int]:
        batches.append([c.buyer_id for c in claims])
        await release.wait()
        return {c.request: c.buyer_id for c in claims}

    writer._persist = persist  # type: ignore[method-assign]
    told: dict[int, int | None] = {}
    for buyer in (1, 2):
        writer.submit(claim_for(1, buyer), lambda i, e, b=buyer: told.__setitem__(b, i))
    writer.start_now()
    writer.submit(claim_for(1, 3), lambda i, e: told.__setitem__(3, i))
    await asyncio.sleep(0.01)
    assert batches == [[1, 2]]
    release.set()
    await writer.idle()
    assert batches == [[1, 2], [3]]
    assert told == {1: 1, 2: 2, 3: 3}
    writer.start_now()  # nothing waits: nothing happens
    assert not writer.busy


async def test_the_hooks_rows_follow_once_no_winner_waits() -> None:
    """No database (the PostgreSQL path with persist and the follow-up replaced): every winner
    is told before the hook's statement runs; it runs once, for every claim committed, when no
    winner has been written for FOLLOW_QUIET_SECS; the writer is not `busy` meanwhile (no
    winner waits) but `idle` waits for it."""
    writer = WinnerWriter(None, concurrency=2)  # type: ignore[arg-type]
    writer._hook = WonHook(after_pg="-", statements_sqlite=())
    writer._to_follow = lambda ids: writer._follow.extend(ids.values())  # type: ignore[method-assign]
    loop = asyncio.get_running_loop()
    events: list[str] = []
    ended: list[float] = []
    followed: list[float] = []
    release, all_ended = asyncio.Event(), asyncio.Event()

    async def persist(claims: list[NewClaim]) -> dict[tuple[int, int, str], int]:
        events.append(f"commit {[c.buyer_id for c in claims]}")
        await release.wait()
        ended.append(loop.time())
        if len(ended) == 3:
            all_ended.set()
        return {c.request: 100 + c.buyer_id for c in claims}

    async def follow_up(claim_ids: list[int]) -> None:
        followed.append(loop.time())
        events.append(f"follow {sorted(claim_ids)}")

    writer._persist = persist  # type: ignore[method-assign]
    writer._follow_up = follow_up  # type: ignore[method-assign]
    for buyer in (1, 2, 3):
        writer.submit(claim_for(1, buyer), lambda i, e, b=buyer: events.append(f"told {b}"))
        writer.start_now()  # three commits asked for, two slots: the third waits
    await asyncio.sleep(0.01)
    assert events == ["commit [1]", "commit [2]"]
    release.set()
    await all_ended.wait()
    for _ in range(3):  # the last commit's done callbacks (call_soon)
        await asyncio.sleep(0)
    assert not writer.busy and not followed
    await writer.idle()
    assert events[-1] == "follow [101, 102, 103]"
    assert sorted(events[:-1]) == sorted(
        ["commit [1]", "commit [2]", "commit [3]", "told 1", "told 2", "told 3"]
    )
    assert events.index("told 3") > events.index("commit [3]")
    assert followed[0] - max(ended) >= FOLLOW_QUIET_SECS * 0.99


async def test_a_claim_left_without_its_order_gets_it_from_the_sweep_or_its_page(
    client: httpx.AsyncClient, session_app: FastAPI, database_url: str
) -> None:
    """PostgreSQL: the server died between a winners' commit and their orders. The sweep writes
    the orders of claims that old, once; the claim's order page writes its own at once, and
    only for its buyer. SQLite: a claim is written with its order, and the sweep finds none."""
    factory = session_app.state.session_factory
    on_pg = dialect_of(factory) == "postgresql"
    writer, sale_id = await writer_and_sale(client, session_app, 5)
    tokens = await make_buyers(database_url, 3)
    headers = [{"Authorization": f"Bearer {t}"} for t in tokens]
    ids = [(await client.get("/api/v1/me", headers=h)).json()["id"] for h in headers]
    if on_pg:  # the claims alone, as the writer commits them before the answer
        async with factory.kw["bind"].connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            claims = await persist_winners_pg(autocommit, [claim_for(sale_id, b) for b in ids])
        claim_of = {buyer: claim_id for (_, buyer, _), claim_id in claims.items()}
    else:
        claim_of = {b: await writer.write(claim_for(sale_id, b)) for b in ids}
    orders = 0 if on_pg else 3
    assert await counts(session_app, sale_id) == (3, 3, 3, orders, orders)

    # Someone else's claim: 404, and nothing written.
    page = f"/api/v1/sales/claims/{claim_of[ids[0]]}/order"
    assert (await client.get(page, headers=headers[1])).status_code == 404
    assert await counts(session_app, sale_id) == (3, 3, 3, orders, orders)
    # The buyer's own: its order (on PostgreSQL written now).
    got = await client.get(page, headers=headers[0])
    assert got.status_code == 200, got.text
    assert (got.json()["status"], got.json()["total"]) == ("awaiting_payment", "19.90")
    orders = 1 if on_pg else 3
    assert await counts(session_app, sale_id) == (3, 3, 3, orders, orders)

    # The sweep: claims younger than ORPHAN_AFTER are left to the writer; older ones get theirs.
    assert await order_jobs.sale_orders_once(factory) == 0
    async with UnitOfWork(factory) as uow:
        later = utcnow() + order_jobs.ORPHAN_AFTER
        assert await OrdersRepository(uow.session).write_missing_sale_orders(later) == 3 - orders
    async with UnitOfWork(factory) as uow:
        assert await OrdersRepository(uow.session).write_missing_sale_orders(later) == 0
    assert await counts(session_app, sale_id) == (3, 3, 3, 3, 3)
    again = await client.get(page, headers=headers[0])
    assert again.json()["id"] == got.json()["id"]
