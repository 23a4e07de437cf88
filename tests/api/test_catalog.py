"""Products, variants, stock, images and who may see or change them."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from livecart.features.catalog.models import StockMovement
from tests.conftest import (
    Actor,
    assert_error,
    create_product,
    image_bytes,
    product_payload,
    sign_up,
)


async def get_product(client: httpx.AsyncClient, product_id: int, **kw: Any) -> dict[str, Any]:
    resp = await client.get(f"/api/v1/products/{product_id}", **kw)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


async def all_pages(
    client: httpx.AsyncClient, url: str, headers: dict[str, str] | None = None, **params: Any
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        query = dict(params)
        if cursor:
            query["cursor"] = cursor
        resp = await client.get(url, params=query, headers=headers)
        assert resp.status_code == 200, resp.text
        page = resp.json()
        assert len(page["items"]) <= params.get("limit", 20)
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("pagination does not end")


async def ledger_sum(app: FastAPI, variant_id: int) -> tuple[int, int]:
    """(sum of deltas, number of movements) for the variant, read from the database."""
    async with app.state.session_factory() as session:
        row = (
            await session.execute(
                select(func.coalesce(func.sum(StockMovement.delta), 0), func.count()).where(
                    StockMovement.variant_id == variant_id
                )
            )
        ).one()
    return int(row[0]), int(row[1])


async def test_create_product_with_variants(client: httpx.AsyncClient, app: FastAPI) -> None:
    merchant = await sign_up(client, "merchant")
    product = await create_product(
        client,
        merchant,
        title="  Wool scarf ",
        description="Warm.",
        variants=[
            {"sku": "SC-1", "options": {"颜色": "驼色"}, "price": "159.00", "stock": 3},
            {"sku": "SC-2", "price": "149.5", "list_price": "199.00", "stock": 0},
        ],
    )
    assert product["title"] == "Wool scarf"
    assert product["merchant_id"] == merchant.user["merchant_id"]
    assert product["currency"] == "CNY"
    assert product["price_from"] == "149.50"
    assert product["stock_total"] == 3
    assert product["archived"] is False
    assert [v["sku"] for v in product["variants"]] == ["SC-1", "SC-2"]
    first, second = product["variants"]
    assert first["options"] == {"颜色": "驼色"}
    assert first["price"] == "159.00"
    assert first["list_price"] is None
    assert second["list_price"] == "199.00"
    assert await ledger_sum(app, first["id"]) == (3, 1)
    assert await ledger_sum(app, second["id"]) == (0, 0)
    assert await get_product(client, product["id"]) == product


async def test_jpy_prices_have_no_decimals(client: httpx.AsyncClient) -> None:
    merchant = await sign_up(client, "merchant")
    product = await create_product(
        client,
        merchant,
        currency="JPY",
        variants=[{"sku": "J1", "price": "1200", "stock": 1}],
    )
    assert product["variants"][0]["price"] == "1200"
    resp = await client.post(
        "/api/v1/products",
        json=product_payload(currency="JPY", variants=[{"sku": "J2", "price": "1200.50"}]),
        headers=merchant.headers,
    )
    assert_error(resp, 422, "invalid_amount")


async def test_newest_first_pagination_has_no_gaps_or_duplicates(
    client: httpx.AsyncClient,
) -> None:
    merchant = await sign_up(client, "merchant")
    ids = [
        (await create_product(client, merchant, title=f"Product {n}", variants=[]))["id"]
        for n in range(25)
    ]
    for limit in (1, 7, 10, 25, 100):
        listed = await all_pages(client, "/api/v1/products", limit=limit)
        assert [p["id"] for p in listed] == ids[::-1], limit
    first = (await client.get("/api/v1/products", params={"limit": 10})).json()
    assert len(first["items"]) == 10
    assert first["next_cursor"]
    assert (await client.get("/api/v1/products")).json()["next_cursor"] is not None
    resp = await client.get("/api/v1/products", params={"cursor": "%%%"})
    assert_error(resp, 400, "invalid_cursor")
    for bad in (0, 101, -1):
        resp = await client.get("/api/v1/products", params={"limit": bad})
        assert_error(resp, 422, "validation_error")


async def test_filters(client: httpx.AsyncClient) -> None:
    merchant = await sign_up(client, "merchant")
    other = await sign_up(client, "merchant", merchant_name="Other shop")
    tee = await create_product(client, merchant, title="Cotton tee", category="fashion")
    mug = await create_product(
        client, merchant, title="Ceramic mug", category="home", open_to_hosts=False
    )
    pct = await create_product(client, other, title="100% cotton_bag", category="fashion")
    plain = await create_product(client, other, title="1000 cottonXbag", category="fashion")
    archived = await create_product(client, merchant, title="Old cotton tee")
    resp = await client.patch(
        f"/api/v1/products/{archived['id']}", json={"archived": True}, headers=merchant.headers
    )
    assert resp.status_code == 200

    async def ids(**params: Any) -> list[int]:
        return [p["id"] for p in await all_pages(client, "/api/v1/products", **params)]

    assert await ids() == [plain["id"], pct["id"], mug["id"], tee["id"]]
    assert await ids(category="home") == [mug["id"]]
    assert await ids(category="fashion") == [plain["id"], pct["id"], tee["id"]]
    assert await ids(open_to_hosts="false") == [mug["id"]]
    assert await ids(open_to_hosts="true") == [plain["id"], pct["id"], tee["id"]]
    assert await ids(merchant_id=other.user["merchant_id"]) == [plain["id"], pct["id"]]
    assert await ids(q="COTTON") == [plain["id"], pct["id"], tee["id"]]
    assert await ids(q="%") == [pct["id"]]
    assert await ids(q="0%") == [pct["id"]]
    assert await ids(q="_") == [pct["id"]]
    assert await ids(q="n_b") == [pct["id"]]
    assert await ids(q="\\") == []
    assert await ids(q="mug", category="fashion") == []
    # archived products stay visible to their merchant only
    mine = await all_pages(client, "/api/v1/merchants/me/products", headers=merchant.headers)
    assert [p["id"] for p in mine] == [archived["id"], mug["id"], tee["id"]]
    active = await all_pages(
        client,
        "/api/v1/merchants/me/products",
        headers=merchant.headers,
        include_archived="false",
    )
    assert [p["id"] for p in active] == [mug["id"], tee["id"]]
    assert_error(await client.get(f"/api/v1/products/{archived['id']}"), 404, "product_not_found")
    own = await get_product(client, archived["id"], headers=merchant.headers)
    assert own["archived"] is True
    resp = await client.get(f"/api/v1/products/{archived['id']}", headers=other.headers)
    assert_error(resp, 404, "product_not_found")
    resp = await client.get("/api/v1/products", params={"category": "weapons"})
    assert_error(resp, 422, "validation_error")


async def test_add_variant_and_duplicate_skus(client: httpx.AsyncClient, app: FastAPI) -> None:
    merchant = await sign_up(client, "merchant")
    product = await create_product(client, merchant)
    resp = await client.post(
        f"/api/v1/products/{product['id']}/variants",
        json={"sku": "TEE-L", "options": {"size": "L"}, "price": "55.00", "stock": 4},
        headers=merchant.headers,
    )
    assert resp.status_code == 201, resp.text
    variant = resp.json()
    assert variant["product_id"] == product["id"]
    assert variant["stock"] == 4
    assert variant["price"] == "55.00"
    assert await ledger_sum(app, variant["id"]) == (4, 1)
    dup = await client.post(
        f"/api/v1/products/{product['id']}/variants",
        json={"sku": "TEE-L", "price": "1.00"},
        headers=merchant.headers,
    )
    assert_error(dup, 409, "duplicate_sku")
    in_body = await client.post(
        "/api/v1/products",
        json=product_payload(
            title="Twice",
            variants=[{"sku": "A", "price": "1.00"}, {"sku": "A", "price": "2.00"}],
        ),
        headers=merchant.headers,
    )
    assert_error(in_body, 422, "duplicate_sku")
    after = await get_product(client, product["id"])
    assert [v["sku"] for v in after["variants"]] == ["TEE-M", "TEE-L"]
    assert after["stock_total"] == 14
    assert len(await all_pages(client, "/api/v1/products")) == 1
    # the same SKU on another product is fine
    other = await create_product(client, merchant, title="Other")
    assert other["variants"][0]["sku"] == "TEE-M"


async def test_patch_product_and_variant(client: httpx.AsyncClient) -> None:
    merchant = await sign_up(client, "merchant")
    product = await create_product(client, merchant)
    pid, vid = product["id"], product["variants"][0]["id"]
    resp = await client.patch(
        f"/api/v1/products/{pid}",
        json={"title": "Better tee", "open_to_hosts": False, "category": "sports"},
        headers=merchant.headers,
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["title"], body["open_to_hosts"], body["category"]) == (
        "Better tee",
        False,
        "sports",
    )
    assert body["description"] == product["description"]
    assert body["updated_at"] >= product["updated_at"]
    resp = await client.patch(
        f"/api/v1/products/{pid}", json={"title": None}, headers=merchant.headers
    )
    assert_error(resp, 422, "field_not_nullable")
    resp = await client.patch(
        f"/api/v1/variants/{vid}",
        json={"price": "39.90", "options": {"size": "XL"}},
        headers=merchant.headers,
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["price"] == "39.90"
    assert resp.json()["list_price"] == "79.00"
    assert resp.json()["options"] == {"size": "XL"}
    resp = await client.patch(
        f"/api/v1/variants/{vid}", json={"list_price": None}, headers=merchant.headers
    )
    assert resp.json()["list_price"] is None
    resp = await client.patch(
        f"/api/v1/variants/{vid}", json={"archived": True}, headers=merchant.headers
    )
    assert resp.json()["archived"] is True
    got = await get_product(client, pid)
    assert got["title"] == "Better tee"
    assert got["stock_total"] == 0  # archived variants do not count
    assert got["price_from"] is None


async def test_list_price_below_price_is_refused(client: httpx.AsyncClient) -> None:
    merchant = await sign_up(client, "merchant")
    resp = await client.post(
        "/api/v1/products",
        json=product_payload(variants=[{"sku": "A", "price": "50.00", "list_price": "40.00"}]),
        headers=merchant.headers,
    )
    assert_error(resp, 422, "list_price_below_price")
    assert await all_pages(client, "/api/v1/products") == []
    product = await create_product(client, merchant)
    vid = product["variants"][0]["id"]
    resp = await client.patch(
        f"/api/v1/variants/{vid}", json={"price": "80.00"}, headers=merchant.headers
    )
    assert_error(resp, 422, "list_price_below_price")
    resp = await client.patch(
        f"/api/v1/variants/{vid}", json={"list_price": "10.00"}, headers=merchant.headers
    )
    assert_error(resp, 422, "list_price_below_price")
    assert (await get_product(client, product["id"]))["variants"] == product["variants"]


async def test_stock_changes(client: httpx.AsyncClient, app: FastAPI) -> None:
    merchant = await sign_up(client, "merchant")
    product = await create_product(client, merchant)
    vid = product["variants"][0]["id"]
    url = f"/api/v1/variants/{vid}/stock"
    resp = await client.post(url, json={"delta": 5}, headers=merchant.headers)
    assert resp.status_code == 200, resp.text
    assert resp.json()["stock"] == 15
    resp = await client.post(
        url, json={"delta": -15, "reason": "damaged"}, headers=merchant.headers
    )
    assert resp.json()["stock"] == 0
    resp = await client.post(url, json={"delta": -1}, headers=merchant.headers)
    err = assert_error(resp, 409, "insufficient_stock")
    assert err["data"] == {"variant_id": vid, "delta": -1}
    resp = await client.post(url, json={"delta": 3}, headers=merchant.headers)
    assert resp.json()["stock"] == 3
    resp = await client.post(url, json={"delta": -4}, headers=merchant.headers)
    assert_error(resp, 409, "insufficient_stock")
    assert_error(
        await client.post(url, json={"delta": 0}, headers=merchant.headers),
        422,
        "stock_delta_zero",
    )
    resp = await client.post(url, json={"delta": 10_000_000}, headers=merchant.headers)
    assert_error(resp, 422, "stock_too_large")
    resp = await client.post(url, json={"delta": 2, "reason": "gift"}, headers=merchant.headers)
    assert_error(resp, 422, "validation_error")
    got = await get_product(client, product["id"])
    assert got["variants"][0]["stock"] == 3
    assert await ledger_sum(app, vid) == (3, 4)


async def test_stock_is_capped_even_when_the_copy_is_stale(client: httpx.AsyncClient) -> None:
    merchant = await sign_up(client, "merchant")
    product = await create_product(
        client, merchant, variants=[{"sku": "A", "price": "1.00", "stock": 9_999_999}]
    )
    url = f"/api/v1/variants/{product['variants'][0]['id']}/stock"
    resp = await client.post(url, json={"delta": 1}, headers=merchant.headers)
    assert resp.json()["stock"] == 10_000_000
    assert_error(
        await client.post(url, json={"delta": 1}, headers=merchant.headers),
        422,
        "stock_too_large",
    )
    assert (await get_product(client, product["id"]))["stock_total"] == 10_000_000


async def test_concurrent_removals_never_oversell(client: httpx.AsyncClient, app: FastAPI) -> None:
    merchant = await sign_up(client, "merchant")
    product = await create_product(client, merchant)  # stock 10
    vid = product["variants"][0]["id"]
    url = f"/api/v1/variants/{vid}/stock"
    results = await asyncio.gather(
        *(client.post(url, json={"delta": -1}, headers=merchant.headers) for _ in range(20))
    )
    statuses = [r.status_code for r in results]
    assert statuses.count(200) == 10, [r.text for r in results]
    assert statuses.count(409) == 10
    for r in results:
        if r.status_code == 409:
            assert r.json()["code"] == "insufficient_stock"
    # every success saw a distinct stock level: the updates were serialised
    assert sorted(r.json()["stock"] for r in results if r.status_code == 200) == list(range(10))
    assert (await get_product(client, product["id"]))["variants"][0]["stock"] == 0
    assert await ledger_sum(app, vid) == (0, 11)


async def test_concurrent_restocks_and_removals_add_up(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    merchant = await sign_up(client, "merchant")
    product = await create_product(client, merchant)  # stock 10
    vid = product["variants"][0]["id"]
    url = f"/api/v1/variants/{vid}/stock"
    deltas = [3, -2, 5, -1, -4, 2, -3, 1, -2, 4]
    results = await asyncio.gather(
        *(client.post(url, json={"delta": d}, headers=merchant.headers) for d in deltas)
    )
    applied = [d for d, r in zip(deltas, results, strict=True) if r.status_code == 200]
    assert all(r.status_code in (200, 409) for r in results)
    stock = (await get_product(client, product["id"]))["variants"][0]["stock"]
    assert stock == 10 + sum(applied)
    assert stock >= 0
    assert await ledger_sum(app, vid) == (stock, 1 + len(applied))


async def test_image_upload(client: httpx.AsyncClient) -> None:
    merchant = await sign_up(client, "merchant")
    product = await create_product(client, merchant)
    url = f"/api/v1/products/{product['id']}/images"
    png = await client.post(
        url, files={"file": ("a.png", image_bytes("PNG"), "image/png")}, headers=merchant.headers
    )
    assert png.status_code == 201, png.text
    jpeg = await client.post(
        url,
        # the declared type and name are ignored: the bytes decide
        files={"file": ("b.bin", image_bytes("JPEG", (80, 60)), "application/octet-stream")},
        headers=merchant.headers,
    )
    assert jpeg.status_code == 201, jpeg.text
    images = jpeg.json()["images"]
    assert [(i["width"], i["height"]) for i in images] == [(64, 48), (80, 60)]
    assert images[0]["url"].endswith(".png")
    assert images[1]["url"].endswith(".jpg")
    assert (await client.get(images[1]["url"])).status_code == 200
    bad = [
        (("fake.png", b"just some text, renamed", "image/png"), 415, "image_invalid"),
        (("anim.gif", image_bytes("GIF"), "image/gif"), 415, "image_type_not_allowed"),
        (("empty.png", b"", "image/png"), 400, "image_empty"),
        (("big.png", b"\x89PNG" + b"\0" * (5 * 1024 * 1024), "image/png"), 413, "image_too_large"),
    ]
    for file, status, code in bad:
        resp = await client.post(url, files={"file": file}, headers=merchant.headers)
        assert_error(resp, status, code)
    huge = await client.post(
        url,
        files={"file": ("huge.png", b"\0" * (6 * 1024 * 1024), "image/png")},
        headers=merchant.headers,
    )
    assert_error(huge, 413, "payload_too_large")
    assert (await get_product(client, product["id"]))["images"] == images
    # removing an image
    resp = await client.delete(f"{url}/{images[0]['id']}", headers=merchant.headers)
    assert resp.status_code == 200
    assert [i["id"] for i in resp.json()["images"]] == [images[1]["id"]]
    resp = await client.delete(f"{url}/{images[0]['id']}", headers=merchant.headers)
    assert_error(resp, 404, "image_not_found")


async def test_another_merchants_things_are_invisible(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    owner = await sign_up(client, "merchant")
    intruder = await sign_up(client, "merchant", merchant_name="Intruder")
    product = await create_product(client, owner)
    pid, vid = product["id"], product["variants"][0]["id"]
    h = intruder.headers
    attempts = [
        (
            await client.patch(f"/api/v1/products/{pid}", json={"title": "Mine"}, headers=h),
            "product_not_found",
        ),
        (
            await client.post(
                f"/api/v1/products/{pid}/variants", json={"sku": "X", "price": "1"}, headers=h
            ),
            "product_not_found",
        ),
        (
            await client.post(
                f"/api/v1/products/{pid}/images",
                files={"file": ("a.png", image_bytes(), "image/png")},
                headers=h,
            ),
            "product_not_found",
        ),
        (
            await client.patch(f"/api/v1/variants/{vid}", json={"price": "1.00"}, headers=h),
            "variant_not_found",
        ),
        (
            await client.post(f"/api/v1/variants/{vid}/stock", json={"delta": -5}, headers=h),
            "variant_not_found",
        ),
        (await client.patch("/api/v1/variants/999999", json={}, headers=h), "variant_not_found"),
    ]
    for resp, code in attempts:
        assert_error(resp, 404, code)
    assert await get_product(client, pid) == product
    assert await ledger_sum(app, vid) == (10, 1)


@pytest.mark.parametrize("role", ["viewer", "host", "agency"])
async def test_only_merchants_create_products(client: httpx.AsyncClient, role: str) -> None:
    actor = await sign_up(client, role)
    resp = await client.post("/api/v1/products", json=product_payload(), headers=actor.headers)
    assert_error(resp, 403, "merchant_required")
    resp = await client.get("/api/v1/merchants/me/products", headers=actor.headers)
    assert_error(resp, 403, "merchant_required")
    assert_error(await client.post("/api/v1/products", json=product_payload()), 401, "unauthorized")
    assert await all_pages(client, "/api/v1/products") == []


async def test_host_products_are_open_ones_plus_their_merchants(
    client: httpx.AsyncClient,
) -> None:
    shop = await sign_up(client, "merchant")
    other = await sign_up(client, "merchant", merchant_name="Other")
    host = await sign_up(client, "host")
    open_own = await create_product(client, shop, title="open own")
    closed_own = await create_product(client, shop, title="closed own", open_to_hosts=False)
    open_other = await create_product(client, other, title="open other")
    await create_product(client, other, title="closed other", open_to_hosts=False)
    url = "/api/v1/hosts/me/products"

    async def ids(actor: Actor, **params: Any) -> list[int]:
        return [p["id"] for p in await all_pages(client, url, headers=actor.headers, **params)]

    assert await ids(host) == [open_other["id"], open_own["id"]]
    resp = await client.post(
        "/api/v1/merchants/me/hosts", json={"email": host.user["email"]}, headers=shop.headers
    )
    assert resp.status_code == 200
    assert await ids(host) == [open_other["id"], closed_own["id"], open_own["id"]]
    assert await ids(host, limit=1) == [open_other["id"], closed_own["id"], open_own["id"]]
    assert await ids(host, q="own") == [closed_own["id"], open_own["id"]]
    viewer = await sign_up(client)
    assert_error(await client.get(url, headers=viewer.headers), 403, "role_required")
    assert_error(await client.get(url, headers=shop.headers), 403, "role_required")
