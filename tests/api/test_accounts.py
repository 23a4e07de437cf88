"""Sign up, log in, sessions and CSRF, host profiles, follows and merchant-linked hosts."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import PASSWORD, Actor, assert_error, image_bytes, sign_up


def new_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}@example.com"


def signup_body(role: str = "viewer", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "email": new_email(role),
        "password": PASSWORD,
        "display_name": "Someone",
        "role": role,
    }
    body.update(extra)
    return body


@pytest.mark.parametrize("role", ["viewer", "host", "agency"])
async def test_signup_each_role(client: httpx.AsyncClient, role: str) -> None:
    body = signup_body(role)
    resp = await client.post("/api/v1/auth/signup", json=body)
    assert resp.status_code == 201, resp.text
    data = resp.json()
    assert data["token"]
    assert data["csrf_token"] is None
    assert "lc_session" not in resp.cookies
    assert data["user"]["email"] == body["email"]
    assert data["user"]["role"] == role
    assert data["user"]["merchant_id"] is None
    assert "password" not in str(data)
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {data['token']}"})
    assert me.status_code == 200
    assert me.json() == data["user"]
    host_resp = await client.get(f"/api/v1/hosts/{data['user']['id']}")
    assert host_resp.status_code == (200 if role == "host" else 404)


async def test_signup_merchant_creates_the_shop(client: httpx.AsyncClient) -> None:
    resp = await client.post(
        "/api/v1/auth/signup", json=signup_body("merchant", merchant_name="Deer Goods")
    )
    assert resp.status_code == 201, resp.text
    user = resp.json()["user"]
    assert user["role"] == "merchant_staff"
    assert user["merchant_id"] is not None
    headers = {"Authorization": f"Bearer {resp.json()['token']}"}
    shop = await client.get("/api/v1/merchants/me", headers=headers)
    assert shop.status_code == 200
    assert shop.json()["id"] == user["merchant_id"]
    assert shop.json()["name"] == "Deer Goods"


async def test_merchant_needs_a_name_and_others_may_not_have_one(
    client: httpx.AsyncClient,
) -> None:
    body = signup_body("merchant")
    resp = await client.post("/api/v1/auth/signup", json=body)
    err = assert_error(resp, 422, "merchant_name_required")
    assert err["data"] == {"field": "merchant_name"}
    resp = await client.post("/api/v1/auth/signup", json=signup_body("viewer", merchant_name="X"))
    assert_error(resp, 422, "merchant_name_not_allowed")
    # nothing was created: the same email can still sign up
    body["merchant_name"] = "Shop"
    assert (await client.post("/api/v1/auth/signup", json=body)).status_code == 201


async def test_duplicate_email_is_refused_case_insensitively(client: httpx.AsyncClient) -> None:
    body = signup_body()
    assert (await client.post("/api/v1/auth/signup", json=body)).status_code == 201
    again = dict(body, email=body["email"].upper(), role="host")
    assert_error(await client.post("/api/v1/auth/signup", json=again), 409, "email_taken")
    login = await client.post(
        "/api/v1/auth/login", json={"email": body["email"].upper(), "password": PASSWORD}
    )
    assert login.status_code == 200
    assert login.json()["user"]["role"] == "viewer"


async def test_concurrent_signups_with_one_email_create_one_account(
    client: httpx.AsyncClient,
) -> None:
    body = signup_body()
    results = await asyncio.gather(
        *(client.post("/api/v1/auth/signup", json=body) for _ in range(5))
    )
    codes = sorted(r.status_code for r in results)
    assert codes == [201, 409, 409, 409, 409], [r.text for r in results]
    for r in results:
        if r.status_code == 409:
            assert_error(r, 409, "email_taken")


async def test_login_and_wrong_password(client: httpx.AsyncClient) -> None:
    body = signup_body()
    await client.post("/api/v1/auth/signup", json=body)
    ok = await client.post(
        "/api/v1/auth/login", json={"email": body["email"], "password": PASSWORD}
    )
    assert ok.status_code == 200
    assert ok.json()["user"]["email"] == body["email"]
    wrong = await client.post(
        "/api/v1/auth/login", json={"email": body["email"], "password": "wrong password"}
    )
    assert_error(wrong, 401, "invalid_credentials")
    unknown = await client.post(
        "/api/v1/auth/login", json={"email": new_email(), "password": PASSWORD}
    )
    err = assert_error(unknown, 401, "invalid_credentials")
    assert err["message"] == wrong.json()["message"]  # no hint which part was wrong


async def test_me_needs_a_valid_token(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/api/v1/me"), 401, "unauthorized")
    resp = await client.get("/api/v1/me", headers={"Authorization": "Bearer nope"})
    assert_error(resp, 401, "unauthorized")


async def test_logout_ends_the_token_only(client: httpx.AsyncClient) -> None:
    body = signup_body()
    first = (await client.post("/api/v1/auth/signup", json=body)).json()["token"]
    second = (
        await client.post("/api/v1/auth/login", json={"email": body["email"], "password": PASSWORD})
    ).json()["token"]
    h1 = {"Authorization": f"Bearer {first}"}
    h2 = {"Authorization": f"Bearer {second}"}
    out = await client.post("/api/v1/auth/logout", headers=h1)
    assert out.status_code == 204
    assert_error(await client.get("/api/v1/me", headers=h1), 401, "unauthorized")
    assert (await client.get("/api/v1/me", headers=h2)).status_code == 200


async def test_cookie_session_needs_csrf_for_writes(client: httpx.AsyncClient) -> None:
    host = await sign_up(client, "host")
    resp = await client.post(
        "/api/v1/auth/login?cookie=true",
        json={"email": host.user["email"], "password": PASSWORD},
    )
    assert resp.status_code == 200
    csrf = resp.json()["csrf_token"]
    assert csrf
    assert client.cookies.get("lc_session") == resp.json()["token"]
    set_cookie = resp.headers["set-cookie"].lower()
    assert "httponly" in set_cookie
    assert "samesite=lax" in set_cookie
    # reads need no CSRF token
    me = await client.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["id"] == host.id
    # writes without it, or with a wrong one, are refused and change nothing
    patch = {"bio": "from the cookie"}
    assert_error(await client.patch("/api/v1/hosts/me", json=patch), 403, "csrf_failed")
    bad = await client.patch("/api/v1/hosts/me", json=patch, headers={"X-CSRF-Token": "0" * 40})
    assert_error(bad, 403, "csrf_failed")
    assert (await client.get(f"/api/v1/hosts/{host.id}")).json()["bio"] == ""
    good = await client.patch("/api/v1/hosts/me", json=patch, headers={"X-CSRF-Token": csrf})
    assert good.status_code == 200, good.text
    assert good.json()["bio"] == "from the cookie"
    # logout through the cookie needs the token too, then clears the cookie
    assert_error(await client.post("/api/v1/auth/logout"), 403, "csrf_failed")
    out = await client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 204
    assert "lc_session" not in client.cookies
    assert_error(await client.get("/api/v1/me"), 401, "unauthorized")


async def test_signup_with_cookie_and_bearer_needs_no_csrf(client: httpx.AsyncClient) -> None:
    resp = await client.post("/api/v1/auth/signup?cookie=true", json=signup_body("host"))
    assert resp.status_code == 201
    assert resp.json()["csrf_token"]
    token = resp.json()["token"]
    client.cookies.clear()
    bearer = {"Authorization": f"Bearer {token}"}
    patched = await client.patch("/api/v1/hosts/me", json={"bio": "bearer"}, headers=bearer)
    assert patched.status_code == 200
    assert patched.json()["bio"] == "bearer"


async def test_stale_cookie_means_logged_out(client: httpx.AsyncClient) -> None:
    client.cookies.set("lc_session", "stale")
    assert_error(await client.get("/api/v1/me"), 401, "unauthorized")
    assert (await client.get("/api/v1/hosts")).status_code == 200


async def test_host_profile_update(client: httpx.AsyncClient) -> None:
    host = await sign_up(client, "host")
    resp = await client.patch(
        "/api/v1/hosts/me",
        json={
            "display_name": "  Lili  ",
            "bio": "Beauty every night",
            "categories": ["beauty", "home", "beauty"],
        },
        headers=host.headers,
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["display_name"] == "Lili"
    assert body["bio"] == "Beauty every night"
    assert body["categories"] == ["beauty", "home"]
    got = (await client.get(f"/api/v1/hosts/{host.id}")).json()
    assert got == body
    # only the given fields change
    resp = await client.patch("/api/v1/hosts/me", json={"bio": "new"}, headers=host.headers)
    assert resp.json()["categories"] == ["beauty", "home"]
    assert resp.json()["display_name"] == "Lili"
    bad = await client.patch(
        "/api/v1/hosts/me", json={"categories": ["weapons"]}, headers=host.headers
    )
    assert_error(bad, 422, "validation_error")
    viewer = await sign_up(client)
    resp = await client.patch("/api/v1/hosts/me", json={"bio": "x"}, headers=viewer.headers)
    assert_error(resp, 403, "role_required")


async def test_avatar_upload(client: httpx.AsyncClient) -> None:
    host = await sign_up(client, "host")
    png = image_bytes("PNG", (40, 40))
    resp = await client.post(
        "/api/v1/hosts/me/avatar",
        files={"file": ("me.png", png, "image/png")},
        headers=host.headers,
    )
    assert resp.status_code == 200, resp.text
    url = resp.json()["avatar_url"]
    assert url.startswith("/media/avatars/")
    assert url.endswith(".png")
    media = await client.get(url)
    assert media.status_code == 200
    assert media.content == png
    not_image = await client.post(
        "/api/v1/hosts/me/avatar",
        files={"file": ("me.png", b"hello, not a picture", "image/png")},
        headers=host.headers,
    )
    assert_error(not_image, 415, "image_invalid")
    tiny = await client.post(
        "/api/v1/hosts/me/avatar",
        files={"file": ("me.png", image_bytes("PNG", (4, 4)), "image/png")},
        headers=host.headers,
    )
    assert_error(tiny, 400, "image_too_small")
    assert (await client.get(f"/api/v1/hosts/{host.id}")).json()["avatar_url"] == url


async def test_follow_and_unfollow_are_idempotent(client: httpx.AsyncClient) -> None:
    host = await sign_up(client, "host")
    fans = [await sign_up(client) for _ in range(2)]
    url = f"/api/v1/hosts/{host.id}/follow"
    for _ in range(2):
        resp = await client.put(url, headers=fans[0].headers)
        assert resp.status_code == 200
        assert resp.json() == {"host_id": host.id, "following": True, "followers_count": 1}
    resp = await client.put(url, headers=fans[1].headers)
    assert resp.json()["followers_count"] == 2
    seen = await client.get(f"/api/v1/hosts/{host.id}", headers=fans[0].headers)
    assert seen.json()["following"] is True
    assert seen.json()["followers_count"] == 2
    anonymous = await client.get(f"/api/v1/hosts/{host.id}")
    assert anonymous.json()["following"] is False
    for _ in range(2):
        resp = await client.delete(url, headers=fans[0].headers)
        assert resp.status_code == 200
        assert resp.json() == {"host_id": host.id, "following": False, "followers_count": 1}
    listed = (await client.get("/api/v1/hosts", headers=fans[1].headers)).json()["items"]
    assert [(h["id"], h["following"], h["followers_count"]) for h in listed] == [(host.id, True, 1)]


async def test_concurrent_follows_count_once(client: httpx.AsyncClient) -> None:
    host = await sign_up(client, "host")
    fan = await sign_up(client)
    url = f"/api/v1/hosts/{host.id}/follow"
    results = await asyncio.gather(*(client.put(url, headers=fan.headers) for _ in range(5)))
    assert all(r.status_code in (200, 409) for r in results), [r.text for r in results]
    assert (await client.get(f"/api/v1/hosts/{host.id}")).json()["followers_count"] == 1


async def test_follow_refusals(client: httpx.AsyncClient) -> None:
    host = await sign_up(client, "host")
    viewer = await sign_up(client)
    resp = await client.put(f"/api/v1/hosts/{host.id}/follow", headers=host.headers)
    assert_error(resp, 422, "cannot_follow_self")
    resp = await client.put(f"/api/v1/hosts/{viewer.id}/follow", headers=host.headers)
    assert_error(resp, 404, "host_not_found")
    resp = await client.put(f"/api/v1/hosts/{host.id}/follow")
    assert_error(resp, 401, "unauthorized")
    assert (await client.get(f"/api/v1/hosts/{host.id}")).json()["followers_count"] == 0


async def _hosts(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = dict(params)
        if cursor:
            query["cursor"] = cursor
        resp = await client.get("/api/v1/hosts", params=query)
        assert resp.status_code == 200, resp.text
        page = resp.json()
        assert len(page["items"]) <= params.get("limit", 20)
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def test_host_list_pages_and_filters(client: httpx.AsyncClient) -> None:
    hosts: list[Actor] = []
    for n in range(7):
        host = await sign_up(client, "host", display_name=f"host {n}")
        cats = ["beauty", "food"] if n % 2 else ["food"]
        await client.patch("/api/v1/hosts/me", json={"categories": cats}, headers=host.headers)
        hosts.append(host)
    await sign_up(client)  # viewers are not hosts
    first = (await client.get("/api/v1/hosts", params={"limit": 3})).json()
    assert len(first["items"]) == 3
    assert first["next_cursor"]
    listed = await _hosts(client, limit=3)
    assert [h["id"] for h in listed] == [h.id for h in hosts]
    beauty = await _hosts(client, limit=2, category="beauty")
    assert [h["id"] for h in beauty] == [h.id for n, h in enumerate(hosts) if n % 2]
    assert all("beauty" in h["categories"] for h in beauty)
    assert len(await _hosts(client, category="food")) == 7
    assert await _hosts(client, category="kids") == []
    resp = await client.get("/api/v1/hosts", params={"category": "nope"})
    assert_error(resp, 422, "validation_error")
    resp = await client.get("/api/v1/hosts", params={"cursor": "garbage!"})
    assert_error(resp, 400, "invalid_cursor")
    last_page = (await client.get("/api/v1/hosts", params={"limit": 7})).json()
    assert last_page["next_cursor"] is None


async def test_merchant_links_a_host(client: httpx.AsyncClient) -> None:
    merchant = await sign_up(client, "merchant")
    host = await sign_up(client, "host")
    resp = await client.post(
        "/api/v1/merchants/me/hosts",
        json={"email": host.user["email"].upper()},
        headers=merchant.headers,
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["id"] == host.id
    assert resp.json()["merchant_id"] == merchant.user["merchant_id"]
    linked = await _hosts(client, merchant_id=merchant.user["merchant_id"])
    assert [h["id"] for h in linked] == [host.id]
    again = await client.post(
        "/api/v1/merchants/me/hosts", json={"email": host.user["email"]}, headers=merchant.headers
    )
    assert again.status_code == 200
    other = await sign_up(client, "merchant", merchant_name="Other")
    taken = await client.post(
        "/api/v1/merchants/me/hosts", json={"email": host.user["email"]}, headers=other.headers
    )
    assert_error(taken, 409, "host_has_merchant")
    viewer = await sign_up(client)
    not_host = await client.post(
        "/api/v1/merchants/me/hosts", json={"email": viewer.user["email"]}, headers=other.headers
    )
    assert_error(not_host, 404, "host_not_found")
    by_host = await client.post(
        "/api/v1/merchants/me/hosts", json={"email": host.user["email"]}, headers=host.headers
    )
    assert_error(by_host, 403, "role_required")
    resp = await client.get("/api/v1/merchants/me", headers=host.headers)
    assert_error(resp, 403, "merchant_required")
    assert (await client.get(f"/api/v1/hosts/{host.id}")).json()["merchant_id"] == merchant.user[
        "merchant_id"
    ]
