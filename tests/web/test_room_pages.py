"""The room pages and the browser 404 page, without a browser."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
from fastapi import FastAPI

from tests.conftest import Actor, assert_error, create_product, in_hours, sign_up

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def page_data(html: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="lc-page">(.*?)</script>', html, re.S)
    assert match, html[:500]
    return dict(json.loads(match.group(1)))


async def live_show(client: httpx.AsyncClient, *, go_live: bool = True) -> tuple[int, Actor]:
    merchant = await sign_up(client, "merchant")
    product = await create_product(client, merchant)
    host = await sign_up(client, "host")
    resp = await client.post(
        "/api/v1/shows",
        json={
            "title": "Tea <b>night</b>",
            "planned_start": in_hours(1),
            "product_ids": [product["id"]],
        },
        headers=host.headers,
    )
    assert resp.status_code == 201, resp.text
    show_id = int(resp.json()["id"])
    if go_live:
        live = await client.post(f"/api/v1/shows/{show_id}/go-live", headers=host.headers)
        assert live.status_code == 200, live.text
    return show_id, host


def as_browser(actor: Actor | None) -> dict[str, str]:
    return {**HTML, "Cookie": f"lc_session={actor.token}"} if actor else HTML


async def test_unknown_page_is_html_for_browsers_and_json_otherwise(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/no/such/page", headers=HTML)
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "<h1>Page not found</h1>" in page.text
    zh = await client.get("/nope", headers={**HTML, "Accept-Language": "zh-CN"})
    assert zh.status_code == 404
    assert "页面不存在" in zh.text
    assert_error(await client.get("/no/such/page"), 404, "not_found")
    assert_error(await client.get("/api/v1/nope", headers=HTML), 404, "not_found")
    assert_error(
        await client.get("/no/such/page", headers={"Accept": "application/json"}), 404, "not_found"
    )
    assert_error(await client.post("/no/such/page", headers=HTML), 404, "not_found")


async def test_room_page_embeds_the_socket_and_the_users_own_token(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    show_id, host = await live_show(client)
    viewer = await sign_up(client, "viewer")
    port = app.state.settings.room_port

    anon = await client.get(f"/shows/{show_id}/live", headers=HTML)
    assert anon.status_code == 200
    data = page_data(anon.text)
    assert data["room_url"] == f"ws://testserver:{port}/rooms/{show_id}"
    assert data["token"] is None
    assert "Tea &lt;b&gt;night&lt;/b&gt;" in anon.text
    assert 'id="chat-login"' in anon.text
    assert viewer.token not in anon.text and host.token not in anon.text

    mine = await client.get(f"/shows/{show_id}/live", headers=as_browser(viewer))
    data = page_data(mine.text)
    assert data["token"] == viewer.token
    assert data["is_own"] is False
    assert 'id="chat-form"' in mine.text
    assert viewer.token not in data["room_url"]

    # The preview of a live show leads to the room; the room of a show not live leads back.
    preview = await client.get(f"/shows/{show_id}", headers=HTML)
    assert preview.status_code == 303
    assert preview.headers["location"] == f"/shows/{show_id}/live"
    scheduled, _ = await live_show(client, go_live=False)
    back = await client.get(f"/shows/{scheduled}/live", headers=HTML)
    assert back.status_code == 303
    assert back.headers["location"] == f"/shows/{scheduled}"
    missing = await client.get("/shows/999999/live", headers=HTML)
    assert missing.status_code == 404


async def test_room_url_setting_wins(client: httpx.AsyncClient, app: FastAPI) -> None:
    show_id, _ = await live_show(client)
    settings = app.state.settings
    saved = settings.room_url
    settings.room_url = "wss://example.com/ws/"
    try:
        resp = await client.get(f"/shows/{show_id}/live", headers=HTML)
    finally:
        settings.room_url = saved
    assert page_data(resp.text)["room_url"] == f"wss://example.com/ws/rooms/{show_id}"


async def test_console_is_for_the_host_and_moderators(client: httpx.AsyncClient) -> None:
    show_id, host = await live_show(client, go_live=False)
    other_host = await sign_up(client, "host")
    moderator = await sign_up(client, "viewer")
    url = f"/host/shows/{show_id}/console"

    anon = await client.get(url, headers=HTML)
    assert anon.status_code == 303
    assert anon.headers["location"].startswith("/login?next=")

    own = await client.get(url, headers=as_browser(host))
    assert own.status_code == 200
    assert page_data(own.text)["token"] == host.token
    assert 'id="go-live"' in own.text

    assert (await client.get(url, headers=as_browser(other_host))).status_code == 403
    assert (await client.get(url, headers=as_browser(moderator))).status_code == 403
    added = await client.put(
        f"/api/v1/shows/{show_id}/moderators/{moderator.id}", headers=host.headers
    )
    assert added.status_code == 200, added.text
    assert (await client.get(url, headers=as_browser(moderator))).status_code == 200
    assert (
        await client.get("/host/shows/999999/console", headers=as_browser(host))
    ).status_code == 404


async def test_home_lists_replays_that_are_ready(client: httpx.AsyncClient, app: FastAPI) -> None:
    """An ended show whose replay is ready is on the home page, linked to its replay; one
    without a replay (nothing was streamed) is not."""
    from livecart.features.media.models import Replay
    from livecart.kit.clock import utcnow

    with_replay, host = await live_show(client)
    without, other_host = await live_show(client)
    for show_id, who in ((with_replay, host), (without, other_host)):
        ended = await client.post(f"/api/v1/shows/{show_id}/end", headers=who.headers)
        assert ended.status_code == 200, ended.text
    empty = await client.get("/", headers=HTML)
    assert 'id="replays-heading"' not in empty.text  # no replay yet: no section
    async with app.state.session_factory() as session:
        session.add(Replay(show_id=with_replay, status="ready", ingest_paths=[], ready_at=utcnow()))
        await session.commit()
    home = await client.get("/", headers=HTML)
    assert 'id="replays-heading"' in home.text
    assert f'href="/shows/{with_replay}/replay"' in home.text
    assert f'data-show-id="{without}"' not in home.text
    assert "Tea &lt;b&gt;night&lt;/b&gt;" in home.text  # titles escaped
