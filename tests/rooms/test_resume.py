"""Resume after reconnect: every client ends with a gap-free sequence or an explicit resync."""

from __future__ import annotations

import asyncio
import random

import httpx

from tests.roomkit import RoomClient, Rooms, live_show


async def test_reconnect_with_last_seq_gets_exactly_the_missed_events(
    client: httpx.AsyncClient, rooms: Rooms
) -> None:
    show = await live_show(client)
    host = await rooms.join(show.id, token=show.host.token)
    viewer = await rooms.join(show.id)
    await host.next("snapshot")
    snap = await viewer.next("snapshot")
    for i in range(3):
        await host.send({"type": "chat", "text": f"line {i}"})
        await viewer.next("chat_posted")
    last = viewer.seqs()[-1]
    await viewer.close()
    for i in range(3, 8):
        await host.send({"type": "chat", "text": f"line {i}"})
        await host.next("chat_posted")
    back = await rooms.join(show.id, last_seq=last, epoch=snap["epoch"])
    welcome = await back.next("welcome", "snapshot")
    assert welcome["type"] == "welcome" and welcome["resumed"] is True
    missed = [await back.next("chat_posted") for _ in range(5)]
    assert [m["message"]["text"] for m in missed] == [f"line {i}" for i in range(3, 8)]
    assert [m["seq"] for m in missed] == list(range(last + 1, last + 6))


async def test_unknown_epoch_or_future_seq_gets_a_fresh_snapshot(
    client: httpx.AsyncClient, rooms: Rooms
) -> None:
    show = await live_show(client)
    stale = await rooms.join(show.id, last_seq=3, epoch="not-this-one")
    assert (await stale.next("welcome", "snapshot"))["type"] == "snapshot"
    ahead = await rooms.join(show.id, last_seq=10**9, epoch=None)
    assert (await ahead.next("welcome", "snapshot"))["type"] == "snapshot"


def _check_client(messages: list[dict[str, object]]) -> None:
    """Within each connection: a snapshot or a welcome, then seqs that never skip."""
    last: int | None = None
    for m in messages:
        if m["type"] in ("snapshot", "welcome"):
            last = int(m["seq"])  # type: ignore[call-overload]
        elif "seq" in m:
            assert last is not None, "an event arrived before the snapshot"
            assert m["seq"] == last + 1, f"gap: {last} -> {m['seq']}"
            last = int(m["seq"])  # type: ignore[call-overload]


async def test_clients_killed_mid_stream_resume_without_gaps(
    client: httpx.AsyncClient, rooms: Rooms
) -> None:
    show = await live_show(client)
    host = await rooms.join(show.id, token=show.host.token)
    await host.next("snapshot")
    rng = random.Random(7)
    viewers = [await rooms.join(show.id) for _ in range(12)]
    for v in viewers:
        await v.next("snapshot")
    histories: list[list[dict[str, object]]] = []
    total = 60

    async def publish() -> None:
        for i in range(total):
            await host.send({"type": "chat", "text": f"msg {i}"})
            await asyncio.sleep(0.02)  # 50 a second: within the staff rate limit

    async def churn(index: int) -> None:
        current: RoomClient = viewers[index]
        epoch = current.received[0]["epoch"]
        for _ in range(3):
            await asyncio.sleep(rng.uniform(0.01, 0.15))
            await current.quiet(0.01)
            histories.append(list(current.received))
            seqs = current.seqs() or [current.received[0]["seq"]]
            await current.close()
            current = await rooms.join(show.id, last_seq=int(seqs[-1]), epoch=epoch)
            await current.next("welcome", "snapshot")
        viewers[index] = current

    await asyncio.gather(publish(), *(churn(i) for i in range(len(viewers))))
    await host.send({"type": "chat", "text": "the end"})
    for v in viewers:
        while not any(
            m.get("message", {}).get("text") == "the end"  # type: ignore[union-attr]
            for m in v.received
            if m["type"] == "chat_posted"
        ):
            await v.next("chat_posted")
        histories.append(list(v.received))
    for history in histories:
        _check_client(history)
    final_texts = [
        m["message"]["text"]
        for m in viewers[0].received  # type: ignore[index]
        if m["type"] == "chat_posted"
    ]
    assert final_texts[-1] == "the end"
