"""Moderation through the room connection: delete, mute, ban, shadow-ban, blocked words, slow
mode, and who may do what."""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from tests.conftest import Actor, sign_up
from tests.roomkit import LiveShow, RoomClient, Rooms, live_show


@dataclass
class Room:
    """A live show with its host, a logged-in viewer (`fan`) and an anonymous watcher."""

    show: LiveShow
    viewer: Actor
    host: RoomClient
    fan: RoomClient
    watcher: RoomClient


async def _room(client: httpx.AsyncClient, rooms: Rooms) -> Room:
    show = await live_show(client)
    viewer = await sign_up(client, "viewer")
    room = Room(
        show,
        viewer,
        await rooms.join(show.id, token=show.host.token),
        await rooms.join(show.id, token=viewer.token),
        await rooms.join(show.id),
    )
    for c in (room.host, room.fan, room.watcher):
        await c.next("snapshot")
    return room


async def test_banned_viewer_cannot_post_and_their_lines_go(
    client: httpx.AsyncClient, rooms: Rooms
) -> None:
    r = await _room(client, rooms)
    await r.fan.send({"type": "chat", "text": "spam spam"})
    line = (await r.watcher.next("chat_posted"))["message"]
    await r.host.send({"type": "restrict", "user_id": r.viewer.id, "kind": "ban"})
    deleted = await r.watcher.next("chat_deleted")
    assert deleted["message_ids"] == [line["id"]]
    await r.fan.send({"type": "chat", "text": "let me back"})
    error = await r.fan.next("error")
    assert error["code"] == "banned"
    assert not [m for m in await r.watcher.quiet() if m["type"] == "chat_posted"]


async def test_muted_viewer_is_told_how_long(client: httpx.AsyncClient, rooms: Rooms) -> None:
    r = await _room(client, rooms)
    await r.host.send({"type": "restrict", "user_id": r.viewer.id, "kind": "mute", "minutes": 5})
    told = await r.fan.next("user_restricted")  # the muted viewer hears of it at once
    assert (told["user_id"], told["kind"]) == (r.viewer.id, "mute")
    assert 0 < told["until_ms"] - time.time() * 1000 <= 5 * 60 * 1000
    await r.fan.send({"type": "chat", "text": "hello"})
    error = await r.fan.next("error")
    assert error["code"] == "muted"
    assert 0 < error["data"]["retry_after_ms"] <= 5 * 60 * 1000
    await r.host.send({"type": "restrict", "user_id": r.viewer.id, "kind": "lift"})
    assert (await r.fan.next("user_restricted"))["kind"] == "lift"
    await r.fan.send({"type": "chat", "text": "free again"})
    assert (await r.fan.next("chat_posted"))["message"]["text"] == "free again"


async def test_shadow_banned_lines_reach_only_their_author(
    client: httpx.AsyncClient, rooms: Rooms
) -> None:
    r = await _room(client, rooms)
    await r.host.send({"type": "restrict", "user_id": r.viewer.id, "kind": "shadow"})
    await r.host.quiet(0.2)
    await r.fan.send({"type": "chat", "text": "buy my stuff elsewhere"})
    own = await r.fan.next("chat_posted")
    assert own["message"]["text"] == "buy my stuff elsewhere"
    assert "seq" not in own  # a direct echo, not a room event
    heard = {m["type"] for m in await r.watcher.quiet()}
    assert "chat_posted" not in heard
    assert "user_restricted" not in heard  # a shadow ban is never announced
    late = await rooms.join(r.show.id)
    assert (await late.next("snapshot"))["chat"] == []


async def test_blocked_words_and_slow_mode(client: httpx.AsyncClient, rooms: Rooms) -> None:
    r = await _room(client, rooms)
    resp = await client.put(
        "/api/v1/hosts/me/blocked-words", json={"words": ["微信"]}, headers=r.show.host.headers
    )
    assert resp.status_code == 200, resp.text
    await r.fan.send({"type": "chat", "text": "加我 微 信 聊"})
    assert (await r.fan.next("error"))["code"] == "blocked_word"
    await r.host.send({"type": "slow_mode", "seconds": 30})
    assert (await r.fan.next("slow_mode"))["seconds"] == 30
    await r.fan.send({"type": "chat", "text": "first"})
    await r.fan.next("chat_posted")
    await r.fan.send({"type": "chat", "text": "second"})
    error = await r.fan.next("error")
    assert error["code"] == "slow_mode"
    assert error["data"]["retry_after_ms"] > 0
    await r.host.send({"type": "chat", "text": "hosts skip slow mode"})
    await r.host.send({"type": "chat", "text": "twice"})
    assert (await r.fan.next("chat_posted"))["message"]["text"] == "hosts skip slow mode"
    assert (await r.fan.next("chat_posted"))["message"]["text"] == "twice"


async def test_viewers_cannot_run_the_console(client: httpx.AsyncClient, rooms: Rooms) -> None:
    r = await _room(client, rooms)
    pid = r.show.product["id"]
    for message in (
        {"type": "drop", "product_id": pid},
        {"type": "explain", "product_id": pid},
        {"type": "pin", "product_id": pid},
        {"type": "end"},
        {"type": "slow_mode", "seconds": 5},
        {"type": "restrict", "user_id": r.show.host.id, "kind": "ban"},
    ):
        await r.fan.send(message)
        error = await r.fan.next("error")
        assert error["code"] == "not_room_staff", message
        assert error["ref"] == message["type"]
    await r.watcher.send({"type": "chat", "text": "anonymous"})
    assert (await r.watcher.next("error"))["code"] == "unauthorized"
    events = [m for m in await r.host.quiet() if "seq" in m]
    assert events == []


async def test_moderators_moderate_and_answer_questions_once(
    client: httpx.AsyncClient, rooms: Rooms
) -> None:
    r = await _room(client, rooms)
    mods = [await sign_up(client, "viewer") for _ in range(2)]
    for mod in mods:
        resp = await client.put(
            f"/api/v1/shows/{r.show.id}/moderators/{mod.id}", headers=r.show.host.headers
        )
        assert resp.status_code == 200, resp.text
    m1 = await rooms.join(r.show.id, token=mods[0].token)
    m2 = await rooms.join(r.show.id, token=mods[1].token)
    assert (await m1.next("snapshot"))["you"]["role"] == "moderator"
    await m2.next("snapshot")
    await r.fan.send({"type": "chat", "text": "有大码吗？", "question": True})
    question = (await m1.next("chat_posted"))["message"]
    await m1.send({"type": "question", "message_id": question["id"], "action": "claim"})
    claimed = (await r.watcher.next("question_updated"))["message"]
    assert claimed["state"] == "claimed"
    assert claimed["claimed_by"]["id"] == mods[0].id
    await m2.send(
        {"type": "question", "message_id": question["id"], "action": "answer", "answer": "有"}
    )
    assert (await m2.next("error"))["code"] == "question_claimed"
    await m1.send(
        {
            "type": "question",
            "message_id": question["id"],
            "action": "answer",
            "answer": "有的，到 XXL",
        }
    )
    answered = (await r.watcher.next("question_updated"))["message"]
    assert answered["state"] == "answered"
    assert answered["answer"] == "有的，到 XXL"
    await m2.send({"type": "delete_chat", "message_id": question["id"]})
    assert (await r.watcher.next("chat_deleted"))["message_ids"] == [question["id"]]
    resp = await client.get(f"/api/v1/shows/{r.show.id}/questions")
    assert resp.status_code == 200
    assert resp.json()["items"] == []
