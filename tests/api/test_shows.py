"""Scheduling shows, lineups, stream keys, transitions, reminders and the show lists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import (
    Actor,
    assert_error,
    create_product,
    in_hours,
    schedule_show,
    sign_up,
)


async def get_show(client: httpx.AsyncClient, show_id: int, **kw: Any) -> dict[str, Any]:
    resp = await client.get(f"/api/v1/shows/{show_id}", **kw)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


async def list_all(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        query = dict(params)
        if cursor:
            query["cursor"] = cursor
        resp = await client.get("/api/v1/shows", params=query, headers=params.pop("h", None))
        assert resp.status_code == 200, resp.text
        page = resp.json()
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("pagination does not end")


async def test_schedule_with_lineup_and_stream_key(client: httpx.AsyncClient) -> None:
    merchant = await sign_up(client, "merchant")
    host = await sign_up(client, "host", display_name="Lili")
    tee = await create_product(client, merchant)
    mug = await create_product(client, merchant, title="Mug", category="home")
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=3)
    show = await schedule_show(
        client,
        host,
        title=" Tee night ",
        description="Come",
        planned_start=start.astimezone(tz=None).isoformat(),
        product_ids=[mug["id"], tee["id"]],
    )
    key = show.pop("stream_key")
    assert key.startswith("live_")
    assert len(key) > 20
    assert show["title"] == "Tee night"
    assert show["state"] == "scheduled"
    assert datetime.fromisoformat(show["planned_start"]) == start
    assert show["started_at"] is None
    assert show["reminders_count"] == 0
    assert show["host"] == {
        "id": host.id,
        "display_name": "Lili",
        "avatar_url": None,
        "followers_count": 0,
    }
    assert [(i["position"], i["product"]["id"]) for i in show["lineup"]] == [
        (0, mug["id"]),
        (1, tee["id"]),
    ]
    got = await get_show(client, show["id"], headers=host.headers)
    assert key not in str(got)
    assert "stream_key" not in got
    assert got == show
    listed = await list_all(client)
    assert key not in str(listed)
    # rotating the key gives a new one, once
    resp = await client.post(f"/api/v1/shows/{show['id']}/stream-key", headers=host.headers)
    assert resp.status_code == 200
    rotated = resp.json()
    assert rotated["show_id"] == show["id"]
    assert rotated["stream_key"] != key
    assert rotated["hint"] == rotated["stream_key"][-4:]
    assert key[-4:] != rotated["hint"] or key != rotated["stream_key"]
    assert rotated["stream_key"] not in str(await get_show(client, show["id"]))


async def test_only_hosts_schedule(client: httpx.AsyncClient) -> None:
    for role in ("viewer", "merchant"):
        actor = await sign_up(client, role)
        resp = await client.post(
            "/api/v1/shows",
            json={"title": "x", "planned_start": in_hours(1)},
            headers=actor.headers,
        )
        assert_error(resp, 403, "role_required")
    resp = await client.post("/api/v1/shows", json={"title": "x", "planned_start": in_hours(1)})
    assert_error(resp, 401, "unauthorized")
    assert await list_all(client) == []


async def test_lineup_rules(client: httpx.AsyncClient) -> None:
    shop = await sign_up(client, "merchant")
    other = await sign_up(client, "merchant", merchant_name="Other")
    host = await sign_up(client, "host")
    mine = await create_product(client, shop, open_to_hosts=False)
    open_other = await create_product(client, other)
    closed_other = await create_product(client, other, open_to_hosts=False)
    show = await schedule_show(client, host, product_ids=[open_other["id"]])
    url = f"/api/v1/shows/{show['id']}/lineup"
    before = await get_show(client, show["id"])
    for ids, code in (
        ([closed_other["id"]], "product_not_allowed"),
        ([open_other["id"], mine["id"]], "product_not_allowed"),
        ([999_999], "product_not_allowed"),
        ([open_other["id"], open_other["id"]], "duplicate_product"),
    ):
        resp = await client.put(url, json={"product_ids": ids}, headers=host.headers)
        err = assert_error(resp, 422, code)
        if code == "product_not_allowed":
            assert err["data"]["product_ids"] == [i for i in ids if i != open_other["id"]]
    assert await get_show(client, show["id"]) == before
    resp = await client.post(
        "/api/v1/shows",
        json={"title": "x", "planned_start": in_hours(1), "product_ids": [closed_other["id"]]},
        headers=host.headers,
    )
    assert_error(resp, 422, "product_not_allowed")
    assert len(await list_all(client)) == 1  # the refused show was not kept
    # after linking, the host's own merchant's closed products are allowed
    await client.post(
        "/api/v1/merchants/me/hosts", json={"email": host.user["email"]}, headers=shop.headers
    )
    resp = await client.put(
        url, json={"product_ids": [mine["id"], open_other["id"]]}, headers=host.headers
    )
    assert resp.status_code == 200, resp.text
    assert [i["product"]["id"] for i in resp.json()["lineup"]] == [mine["id"], open_other["id"]]
    resp = await client.put(url, json={"product_ids": []}, headers=host.headers)
    assert resp.json()["lineup"] == []


async def test_another_hosts_show_is_not_found(client: httpx.AsyncClient) -> None:
    owner = await sign_up(client, "host")
    intruder = await sign_up(client, "host")
    show = await schedule_show(client, owner)
    sid = show.pop("stream_key") and show["id"]
    h = intruder.headers
    for resp in (
        await client.patch(f"/api/v1/shows/{sid}", json={"title": "mine"}, headers=h),
        await client.put(f"/api/v1/shows/{sid}/lineup", json={"product_ids": []}, headers=h),
        await client.post(f"/api/v1/shows/{sid}/go-live", headers=h),
        await client.post(f"/api/v1/shows/{sid}/end", headers=h),
        await client.post(f"/api/v1/shows/{sid}/cancel", headers=h),
        await client.post(f"/api/v1/shows/{sid}/stream-key", headers=h),
    ):
        assert_error(resp, 404, "show_not_found")
    assert await get_show(client, sid) == show
    assert_error(await client.get("/api/v1/shows/999999"), 404, "show_not_found")


async def test_transitions(client: httpx.AsyncClient) -> None:
    host = await sign_up(client, "host")
    show = await schedule_show(client, host)
    sid = show["id"]

    async def act(action: str) -> httpx.Response:
        return await client.post(f"/api/v1/shows/{sid}/{action}", headers=host.headers)

    assert_error(await act("end"), 409, "invalid_transition")
    live = await act("go-live")
    assert live.status_code == 200
    assert live.json()["state"] == "live"
    assert live.json()["started_at"] is not None
    assert_error(await act("go-live"), 409, "invalid_transition")
    assert_error(await act("cancel"), 409, "invalid_transition")
    # a live show can still be retitled but keeps its start
    resp = await client.patch(
        f"/api/v1/shows/{sid}", json={"title": "Live title"}, headers=host.headers
    )
    assert resp.json()["title"] == "Live title"
    resp = await client.patch(
        f"/api/v1/shows/{sid}", json={"planned_start": in_hours(3)}, headers=host.headers
    )
    assert_error(resp, 409, "show_already_started")
    ended = await act("end")
    assert ended.json()["state"] == "ended"
    assert ended.json()["ended_at"] >= ended.json()["started_at"]
    for action in ("go-live", "end", "cancel"):
        assert_error(await act(action), 409, "invalid_transition")
    resp = await client.patch(f"/api/v1/shows/{sid}", json={"title": "x"}, headers=host.headers)
    assert_error(resp, 409, "show_not_editable")
    resp = await client.put(
        f"/api/v1/shows/{sid}/lineup", json={"product_ids": []}, headers=host.headers
    )
    assert_error(resp, 409, "show_not_editable")
    resp = await client.post(f"/api/v1/shows/{sid}/stream-key", headers=host.headers)
    assert_error(resp, 409, "show_not_editable")
    final = await get_show(client, sid)
    assert final["state"] == "ended"
    assert final["title"] == "Live title"


async def test_cancel(client: httpx.AsyncClient) -> None:
    host = await sign_up(client, "host")
    show = await schedule_show(client, host)
    url = f"/api/v1/shows/{show['id']}"
    resp = await client.post(f"{url}/cancel", headers=host.headers)
    assert resp.json()["state"] == "cancelled"
    assert resp.json()["ended_at"] is not None
    assert resp.json()["started_at"] is None
    for action in ("go-live", "end", "cancel"):
        assert_error(
            await client.post(f"{url}/{action}", headers=host.headers), 409, "invalid_transition"
        )
    assert_error(
        await client.patch(url, json={"description": "x"}, headers=host.headers),
        409,
        "show_not_editable",
    )


@pytest.mark.parametrize(
    ("planned_start", "status", "code"),
    [
        ((datetime.now(UTC) - timedelta(hours=1)).isoformat(), 422, "planned_start_in_past"),
        ((datetime.now(UTC) + timedelta(days=400)).isoformat(), 422, "planned_start_too_far"),
        ("2030-01-01T12:00:00", 422, "validation_error"),  # naive
        ("tomorrow", 422, "validation_error"),
        ("9999-12-31T23:59:59-23:00", 422, "validation_error"),  # past the end of time in UTC
        ("0001-01-01T00:00:00+23:00", 422, "validation_error"),
    ],
)
async def test_planned_start_is_checked(
    client: httpx.AsyncClient, planned_start: str, status: int, code: str
) -> None:
    host = await sign_up(client, "host")
    resp = await client.post(
        "/api/v1/shows", json={"title": "x", "planned_start": planned_start}, headers=host.headers
    )
    assert_error(resp, status, code)
    show = await schedule_show(client, host)
    resp = await client.patch(
        f"/api/v1/shows/{show['id']}", json={"planned_start": planned_start}, headers=host.headers
    )
    assert_error(resp, status, code)
    assert (await get_show(client, show["id"]))["planned_start"] == show["planned_start"]


async def test_start_now_with_a_slow_clock_is_fine(client: httpx.AsyncClient) -> None:
    host = await sign_up(client, "host")
    show = await schedule_show(client, host, planned_start=in_hours(-0.02))
    assert show["state"] == "scheduled"
    resp = await client.patch(
        f"/api/v1/shows/{show['id']}", json={"title": None}, headers=host.headers
    )
    assert_error(resp, 422, "field_not_nullable")


async def test_reminders(client: httpx.AsyncClient) -> None:
    host = await sign_up(client, "host")
    fans = [await sign_up(client) for _ in range(2)]
    show = await schedule_show(client, host)
    url = f"/api/v1/shows/{show['id']}/reminder"
    for _ in range(2):
        resp = await client.put(url, headers=fans[0].headers)
        assert resp.status_code == 200
        assert resp.json() == {"show_id": show["id"], "reminded": True, "reminders_count": 1}
    resp = await client.put(url, headers=fans[1].headers)
    assert resp.json()["reminders_count"] == 2
    assert (await get_show(client, show["id"], headers=fans[0].headers))["reminded"] is True
    assert (await get_show(client, show["id"], headers=host.headers))["reminded"] is False
    assert (await get_show(client, show["id"]))["reminded"] is False
    listed = await list_all(client, h=fans[1].headers)
    assert [(s["id"], s["reminded"], s["reminders_count"]) for s in listed] == [
        (show["id"], True, 2)
    ]
    for _ in range(2):
        resp = await client.delete(url, headers=fans[0].headers)
        assert resp.json() == {"show_id": show["id"], "reminded": False, "reminders_count": 1}
    assert (await get_show(client, show["id"], headers=fans[0].headers))["reminded"] is False
    assert_error(await client.put(url), 401, "unauthorized")
    assert_error(
        await client.put("/api/v1/shows/999999/reminder", headers=fans[0].headers),
        404,
        "show_not_found",
    )
    # only for shows that have not started
    await client.post(f"/api/v1/shows/{show['id']}/go-live", headers=host.headers)
    assert_error(await client.put(url, headers=fans[0].headers), 409, "show_not_upcoming")
    assert (await get_show(client, show["id"]))["reminders_count"] == 1
    resp = await client.delete(url, headers=fans[1].headers)  # leaving is always allowed
    assert resp.json()["reminders_count"] == 0


async def make_shows(client: httpx.AsyncClient) -> tuple[Actor, Actor, list[dict[str, Any]]]:
    """Two hosts, 7 shows with start times not in id order, in different states."""
    a = await sign_up(client, "host")
    b = await sign_up(client, "host")
    offsets = [5, 1, 3, 3, 2, 8, 1]  # hours; equal starts test the id tie-break
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    shows = []
    for n, hours in enumerate(offsets):
        host = a if n % 2 == 0 else b
        moment = (start + timedelta(hours=hours)).isoformat()
        shows.append(await schedule_show(client, host, title=f"show {n}", planned_start=moment))
    await client.post(f"/api/v1/shows/{shows[0]['id']}/go-live", headers=a.headers)
    await client.post(f"/api/v1/shows/{shows[2]['id']}/cancel", headers=a.headers)
    await client.post(f"/api/v1/shows/{shows[3]['id']}/go-live", headers=b.headers)
    await client.post(f"/api/v1/shows/{shows[3]['id']}/end", headers=b.headers)
    return a, b, shows


async def test_list_filters_and_newest_order(client: httpx.AsyncClient) -> None:
    a, b, shows = await make_shows(client)
    ids = [s["id"] for s in shows]
    assert [s["id"] for s in await list_all(client)] == ids[::-1]
    assert [s["id"] for s in await list_all(client, limit=2)] == ids[::-1]
    assert [s["id"] for s in await list_all(client, state="live")] == [ids[0]]
    both = await list_all(client, state=["live", "cancelled"])
    assert [s["id"] for s in both] == [ids[2], ids[0]]
    assert [s["id"] for s in await list_all(client, host_id=b.id, limit=1)] == [
        ids[5],
        ids[3],
        ids[1],
    ]
    scheduled_a = await list_all(client, host_id=a.id, state="scheduled")
    assert [s["id"] for s in scheduled_a] == [ids[6], ids[4]]
    assert await list_all(client, host_id=999_999) == []
    resp = await client.get("/api/v1/shows", params={"state": "paused"})
    assert_error(resp, 422, "validation_error")


async def test_upcoming_order_pages_by_start_time(client: httpx.AsyncClient) -> None:
    _, _, shows = await make_shows(client)
    expected = [s["id"] for s in sorted(shows, key=lambda s: (s["planned_start"], s["id"]))]
    for limit in (1, 2, 3, 7, 50):
        got = await list_all(client, order="upcoming", limit=limit)
        assert [s["id"] for s in got] == expected, limit
    starts = [s["planned_start"] for s in await list_all(client, order="upcoming")]
    assert starts == sorted(starts)
    scheduled = await list_all(client, order="upcoming", state="scheduled", limit=2)
    assert [s["id"] for s in scheduled] == [
        i for i in expected if i not in (shows[0]["id"], shows[2]["id"], shows[3]["id"])
    ]
    first = (await client.get("/api/v1/shows", params={"order": "upcoming", "limit": 2})).json()
    # a time cursor does not work for the newest-first order and vice versa
    resp = await client.get("/api/v1/shows", params={"cursor": first["next_cursor"]})
    assert_error(resp, 400, "invalid_cursor")
    newest = (await client.get("/api/v1/shows", params={"limit": 2})).json()
    resp = await client.get(
        "/api/v1/shows", params={"order": "upcoming", "cursor": newest["next_cursor"]}
    )
    assert_error(resp, 400, "invalid_cursor")
    resp = await client.get("/api/v1/shows", params={"order": "oldest"})
    assert_error(resp, 422, "validation_error")


async def test_an_admin_without_a_host_profile_cannot_break_the_show_list(
    client: httpx.AsyncClient, app: Any
) -> None:
    from sqlalchemy import update

    from livecart.features.accounts.models import User

    admin = await sign_up(client)
    async with app.state.session_factory() as session:
        await session.execute(update(User).where(User.id == admin.id).values(role="admin"))
        await session.commit()
    host = await sign_up(client, "host")
    show = await schedule_show(client, host)
    resp = await client.post(
        "/api/v1/shows", json={"title": "x", "planned_start": in_hours(1)}, headers=admin.headers
    )
    assert_error(resp, 403, "role_required")
    assert [s["id"] for s in await list_all(client)] == [show["id"]]
    # an admin may still act on any host's show
    resp = await client.post(f"/api/v1/shows/{show['id']}/cancel", headers=admin.headers)
    assert resp.status_code == 200
    assert resp.json()["state"] == "cancelled"
