"""Refused input: every refusal is a JSON {code, message, data} and changes nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import (
    Actor,
    assert_error,
    create_product,
    in_hours,
    product_payload,
    sign_up,
)

MB = 1024 * 1024


async def snapshot(client: httpx.AsyncClient, merchant: Actor) -> dict[str, Any]:
    """Everything a refused request could have touched, read through the API."""
    products = await client.get(
        "/api/v1/merchants/me/products", params={"limit": 100}, headers=merchant.headers
    )
    shows = await client.get("/api/v1/shows", params={"limit": 100})
    hosts = await client.get("/api/v1/hosts", params={"limit": 100})
    me = await client.get("/api/v1/me", headers=merchant.headers)
    return {
        "products": products.json(),
        "shows": shows.json(),
        "hosts": hosts.json(),
        "me": me.json(),
    }


@pytest.fixture
async def merchant(client: httpx.AsyncClient) -> Actor:
    actor = await sign_up(client, "merchant")
    await create_product(client, actor)
    return actor


def raw_json(merchant: Actor) -> dict[str, str]:
    return {**merchant.headers, "Content-Type": "application/json"}


@pytest.mark.parametrize(
    "body",
    [b"{", b"{'title': 'x'}", b'{"title": "x",}', b"\xff\xfe", b'{"title": "x"} trailing'],
)
async def test_malformed_json(client: httpx.AsyncClient, merchant: Actor, body: bytes) -> None:
    before = await snapshot(client, merchant)
    resp = await client.post("/api/v1/products", content=body, headers=raw_json(merchant))
    assert resp.status_code == 400, resp.text
    assert resp.json()["code"] in {"malformed_json", "bad_request"}
    assert_error(resp, 400, resp.json()["code"])
    if body != b"\xff\xfe":
        assert resp.json()["code"] == "malformed_json"
    assert await snapshot(client, merchant) == before


@pytest.mark.parametrize(
    ("url", "method", "payload"),
    [
        ("/api/v1/products", "POST", product_payload(title=123)),
        ("/api/v1/products", "POST", product_payload(open_to_hosts="maybe")),
        ("/api/v1/products", "POST", product_payload(variants="many")),
        ("/api/v1/products", "POST", product_payload(colour="red")),  # unknown field
        ("/api/v1/products", "POST", product_payload(title="")),
        ("/api/v1/products", "POST", product_payload(title="x" * 121)),
        ("/api/v1/products", "POST", product_payload(title="nul\x00byte")),
        ("/api/v1/products", "POST", product_payload(description="nul\x00")),
        ("/api/v1/products", "POST", product_payload(currency="BTC")),
        ("/api/v1/products", "POST", product_payload(variants=[{"sku": "A", "price": "-1"}])),
        ("/api/v1/products", "POST", product_payload(variants=[{"sku": "A", "price": "0"}])),
        ("/api/v1/products", "POST", product_payload(variants=[{"sku": "A", "price": "0.001"}])),
        ("/api/v1/products", "POST", product_payload(variants=[{"sku": "A", "price": "1e9"}])),
        ("/api/v1/products", "POST", product_payload(variants=[{"sku": "A", "price": "NaN"}])),
        (
            "/api/v1/products",
            "POST",
            product_payload(variants=[{"sku": "A", "price": "1.00", "stock": -1}]),
        ),
        (
            "/api/v1/products",
            "POST",
            product_payload(variants=[{"sku": "bad sku!", "price": "1.00"}]),
        ),
        (
            "/api/v1/products",
            "POST",
            product_payload(variants=[{"sku": "A", "price": "1.00", "extra": 1}]),
        ),
        (
            "/api/v1/products",
            "POST",
            product_payload(variants=[{"sku": "A", "price": "1.00", "options": {"k\x00": "v"}}]),
        ),
        ("/api/v1/products", "POST", []),
        ("/api/v1/products", "POST", "just a string"),
        ("/api/v1/products", "POST", None),
        ("/api/v1/hosts/me", "PATCH", {"bio": 5}),
        ("/api/v1/merchants/me/hosts", "POST", {"email": "not an email"}),
        ("/api/v1/merchants/me/hosts", "POST", {"email": "a@b.co", "role": "x"}),
    ],
)
async def test_wrong_types_and_unknown_fields(
    client: httpx.AsyncClient, merchant: Actor, url: str, method: str, payload: Any
) -> None:
    before = await snapshot(client, merchant)
    resp = await client.request(
        method, url, content=json.dumps(payload), headers=raw_json(merchant)
    )
    err = assert_error(resp, 422, "validation_error")
    errors = err["data"]["errors"]
    assert errors
    assert all(set(e) == {"loc", "msg", "type"} for e in errors)
    assert "\x00" not in json.dumps(err)  # the offending input is not echoed
    assert await snapshot(client, merchant) == before


async def test_negative_and_wrong_stock_changes(client: httpx.AsyncClient, merchant: Actor) -> None:
    product = (await snapshot(client, merchant))["products"]["items"][0]
    vid = product["variants"][0]["id"]
    before = await snapshot(client, merchant)
    for body in ({"delta": "ten"}, {"delta": 1.5}, {"delta": 10**9}, {}, {"delta": 1, "x": 1}):
        resp = await client.post(
            f"/api/v1/variants/{vid}/stock", json=body, headers=raw_json(merchant)
        )
        assert_error(resp, 422, "validation_error")
    for body in ({"price": "-5"}, {"price": "0"}, {"list_price": "-1"}, {"sku": "NEW"}):
        resp = await client.patch(f"/api/v1/variants/{vid}", json=body, headers=merchant.headers)
        assert_error(resp, 422, "validation_error")
    assert await snapshot(client, merchant) == before


async def test_show_inputs(client: httpx.AsyncClient, merchant: Actor) -> None:
    host = await sign_up(client, "host")
    before = await snapshot(client, merchant)
    soon = in_hours(2)
    for body in (
        {"title": "x"},
        {"title": "x", "planned_start": soon, "product_ids": [0]},
        {"title": "x", "planned_start": soon, "product_ids": [2**70]},
        {"title": "x", "planned_start": soon, "product_ids": "1,2"},
        {"title": "x\x00", "planned_start": soon},
        {"title": "x", "planned_start": soon, "stream_key": "mine"},
    ):
        resp = await client.post("/api/v1/shows", json=body, headers=host.headers)
        assert_error(resp, 422, "validation_error")
    assert await snapshot(client, merchant) == before


async def test_body_over_one_megabyte_with_content_length(
    client: httpx.AsyncClient, merchant: Actor
) -> None:
    before = await snapshot(client, merchant)
    body = json.dumps(product_payload(description="x" * (MB + 10))).encode()
    resp = await client.post("/api/v1/products", content=body, headers=raw_json(merchant))
    err = assert_error(resp, 413, "payload_too_large")
    assert err["data"]["max_bytes"] == MB
    resp = await client.post(
        "/api/v1/products", content=b"{}", headers={**raw_json(merchant), "Content-Length": "abc"}
    )
    assert resp.status_code in (400, 413)
    assert await snapshot(client, merchant) == before


async def test_body_over_one_megabyte_streamed_without_length(
    client: httpx.AsyncClient, merchant: Actor
) -> None:
    before = await snapshot(client, merchant)
    body = json.dumps(product_payload(description="x" * (MB + 10))).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    resp = await client.post("/api/v1/products", content=chunks(), headers=raw_json(merchant))
    assert "content-length" not in resp.request.headers
    err = assert_error(resp, 413, "payload_too_large")
    assert err["data"]["max_bytes"] == MB
    assert await snapshot(client, merchant) == before


async def test_streamed_body_under_the_limit_works(
    client: httpx.AsyncClient, merchant: Actor
) -> None:
    body = json.dumps(product_payload(title="Streamed")).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 10):
            yield body[start : start + 10]

    resp = await client.post("/api/v1/products", content=chunks(), headers=raw_json(merchant))
    assert resp.status_code == 201, resp.text
    assert resp.json()["title"] == "Streamed"


async def test_unknown_routes_and_methods(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/api/v1/nothing-here"), 404, "not_found")
    assert_error(await client.post("/api/v1/products/1/nothing"), 404, "not_found")
    resp = await client.delete("/api/v1/products")
    assert_error(resp, 405, "method_not_allowed")
    assert "GET" in resp.headers["allow"]


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/products/99999999999999999999999",
        "/api/v1/shows/99999999999999999999999",
        "/api/v1/hosts/99999999999999999999999",
        "/api/v1/products?merchant_id=99999999999999999999999",
        "/api/v1/shows?host_id=99999999999999999999999",
        "/api/v1/products/-1",
        "/api/v1/products/abc",
    ],
)
async def test_out_of_range_ids_are_refused_not_crashes(
    client: httpx.AsyncClient, url: str
) -> None:
    resp = await client.get(url)
    assert resp.status_code in (404, 422), resp.text
    assert_error(resp, resp.status_code, resp.json()["code"])


async def test_search_text_with_nul_is_refused(client: httpx.AsyncClient) -> None:
    resp = await client.get("/api/v1/products", params={"q": "a\x00b"})
    assert_error(resp, 422, "validation_error")


async def test_refused_requests_as_other_roles_change_nothing(
    client: httpx.AsyncClient, merchant: Actor
) -> None:
    viewer = await sign_up(client)
    before = await snapshot(client, merchant)
    product = before["products"]["items"][0]
    for method, url, payload in (
        ("POST", "/api/v1/products", product_payload()),
        ("PATCH", f"/api/v1/products/{product['id']}", {"title": "hacked"}),
        ("POST", f"/api/v1/variants/{product['variants'][0]['id']}/stock", {"delta": -10}),
        ("POST", "/api/v1/shows", {"title": "x", "planned_start": "2030-01-01T00:00:00Z"}),
    ):
        resp = await client.request(method, url, json=payload, headers=viewer.headers)
        assert resp.status_code == 403, resp.text
        assert_error(resp, 403, resp.json()["code"])
    assert await snapshot(client, merchant) == before
