"""The number of SQL statements per list request is fixed: no N+1 queries."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import event

from tests.conftest import Actor, create_product, schedule_show, sign_up


@contextmanager
def counted(app: FastAPI) -> Iterator[list[str]]:
    statements: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engine = app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


async def queries_for(
    client: httpx.AsyncClient, app: FastAPI, url: str, actor: Actor | None = None, **params: Any
) -> tuple[int, dict[str, Any]]:
    with counted(app) as statements:
        resp = await client.get(url, params=params, headers=actor.headers if actor else None)
    assert resp.status_code == 200, resp.text
    return len(statements), dict(resp.json())


async def test_products_list_query_count_is_flat(client: httpx.AsyncClient, app: FastAPI) -> None:
    merchant = await sign_up(client, "merchant")
    await create_product(client, merchant, title="one")
    one, page = await queries_for(client, app, "/api/v1/products")
    assert len(page["items"]) == 1
    for n in range(11):
        variants = [{"sku": f"S{i}", "price": "1.00", "stock": 1} for i in range(3)]
        await create_product(client, merchant, title=f"p{n}", variants=variants)
    many, page = await queries_for(client, app, "/api/v1/products", limit=50)
    assert len(page["items"]) == 12
    assert many == one
    assert many <= 4  # products, their variants, their images (+ transaction chatter)
    with_user, _ = await queries_for(client, app, "/api/v1/products", merchant, limit=50)
    assert with_user <= many + 1  # the token lookup


async def test_shows_list_query_count_is_flat(client: httpx.AsyncClient, app: FastAPI) -> None:
    merchant = await sign_up(client, "merchant")
    products = [(await create_product(client, merchant, title=f"p{n}"))["id"] for n in range(4)]
    viewer = await sign_up(client)
    first_host = await sign_up(client, "host")
    await schedule_show(client, first_host, product_ids=products[:1])
    one, page = await queries_for(client, app, "/api/v1/shows", viewer)
    assert len(page["items"]) == 1
    for n in range(8):
        host = await sign_up(client, "host")
        show = await schedule_show(client, host, title=f"s{n}", product_ids=products[n % 4 :])
        await client.put(f"/api/v1/shows/{show['id']}/reminder", headers=viewer.headers)
    many, page = await queries_for(client, app, "/api/v1/shows", viewer, limit=50)
    assert len(page["items"]) == 9
    assert sum(len(s["lineup"]) for s in page["items"]) > 9
    assert any(s["reminded"] for s in page["items"])
    assert many == one
    upcoming, _ = await queries_for(client, app, "/api/v1/shows", viewer, order="upcoming")
    assert upcoming == many
    anonymous, _ = await queries_for(client, app, "/api/v1/shows")
    assert anonymous < many  # no token lookup, no reminder lookup
