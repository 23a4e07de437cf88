"""The replay: markers where the explanations were (checked against the clock burnt into the
frames), chapters, the host's edits, the replay page, and a replay from a broken recording."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import httpx
from websockets.sync.client import connect

from livecart.bench.glass import BITS, BLOCK, COLS, publisher_command
from tests.conftest import PASSWORD
from tests.media.conftest import (
    MediaServer,
    StreamShow,
    scheduled_show,
    show_state,
    sign_up,
    wait_for,
)
from tests.media.test_player_browser import chromium, page_at  # noqa: F401 - fixtures

Publish = Callable[..., subprocess.Popen[bytes]]


def clock_stream(url: str, seconds: float) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        publisher_command(url, seconds), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def captured_ms_at(playlist: Path, video_ms: int) -> int:
    """The wall-clock ms (mod 2**24) burnt into the replay's frame at `video_ms`."""
    raw = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-ss",
            f"{video_ms / 1000:.3f}",
            "-i",
            str(playlist),
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "gray",
            "-",
        ],
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    value = 0
    for i in range(BITS):
        x, y = (i % COLS) * BLOCK + BLOCK // 2, (i // COLS) * BLOCK + BLOCK // 2
        if raw[y * 320 + x] > 128:
            value += 2**i
    return value


def room_send(
    media_server: MediaServer, s: StreamShow, messages: list[dict[str, Any]]
) -> list[int]:
    """Send host messages in the room; returns each one's t_event (ms), 1.5 s apart."""
    times = []
    with connect(f"{media_server.server.room_base}/rooms/{s.id}") as ws:
        ws.send(json.dumps({"type": "hello", "token": s.host["token"]}))
        while json.loads(ws.recv(timeout=5))["type"] != "snapshot":
            pass
        for message in messages:
            ws.send(json.dumps(message))
            while True:
                event = json.loads(ws.recv(timeout=5))
                assert event["type"] != "error", event
                if "t_event" in event and event["type"] != "show_state":
                    times.append(int(event["t_event"]))
                    break
            time.sleep(3)
    return times


def ms(moment: str) -> int:
    return int(datetime.fromisoformat(moment).timestamp() * 1000)


def test_markers_chapters_edits_and_the_replay_page(
    media_server: MediaServer,
    http: httpx.Client,
    page_at: Callable[[str], Any],  # noqa: F811
) -> None:
    s = scheduled_show(http)
    pub = clock_stream(media_server.rtmp(s.key), 14)
    try:
        wait_for(lambda: show_state(http, s.id) == "live", timeout=5, what="going live")
        time.sleep(3)
        started, stopped = room_send(
            media_server,
            s,
            [
                {"type": "explain", "product_id": s.product["id"]},
                {"type": "explain", "product_id": None},
            ],
        )
        pub.wait(timeout=20)
    finally:
        pub.kill()
        pub.wait()
    assert http.post(f"/api/v1/shows/{s.id}/end", headers=s.host["headers"]).status_code == 200
    replay = wait_for(
        lambda: (r := http.get(f"/api/v1/shows/{s.id}/replay").json())["status"] == "ready" and r,
        timeout=10,
        what="the replay",
    )
    products = [m for m in replay["markers"] if m["kind"] == "product"]
    assert len(products) == 1
    marker = products[0]
    assert marker["product"]["id"] == s.product["id"]
    assert marker["product"]["title"] == "Osmanthus oolong"
    assert marker["product"]["price"] == "39.90"
    # The frame at the marker was captured when the host pressed "explain": within ±1 s.
    playlist = media_server.show_dir(s.id) / "replay.m3u8"
    modulus = 2**BITS
    for video_ms, t_event in ((marker["start_ms"], started), (marker["end_ms"], stopped)):
        captured = captured_ms_at(playlist, video_ms)
        assert abs((t_event % modulus) - captured) <= 1000, (video_ms, t_event, captured)
    assert abs(marker["start_ms"] - (started - ms(replay["started_at"]))) <= 1000

    vtt = http.get(f"/api/v1/shows/{s.id}/replay/chapters.vtt")
    assert vtt.status_code == 200
    assert vtt.headers["content-type"].startswith("text/vtt")
    assert vtt.text.startswith("WEBVTT") and "Osmanthus oolong" in vtt.text

    # Only the host edits markers.
    base = f"/api/v1/shows/{s.id}/replay/markers"
    other = sign_up(http, "host", "Other host")
    viewer = sign_up(http, "viewer", "Mei")
    body = {"label": "Best bit"}
    assert http.patch(f"{base}/{marker['id']}", json=body).status_code == 401
    assert (
        http.patch(f"{base}/{marker['id']}", json=body, headers=other["headers"]).status_code == 404
    )
    assert http.post(base, json={"start_ms": 1000}, headers=viewer["headers"]).status_code == 404
    added = http.post(base, json={"start_ms": 2000, "label": "Hello"}, headers=s.host["headers"])
    assert added.status_code == 201, added.text
    assert added.json()["source"] == "host"
    too_far = http.post(base, json={"start_ms": 3_600_000}, headers=s.host["headers"])
    assert too_far.status_code == 422
    assert http.delete(f"{base}/{added.json()['id']}", headers=s.host["headers"]).status_code == 204

    # The replay page: markers on the bar, hover shows the product, a click seeks there.
    page = page_at(f"/shows/{s.id}/replay")
    page.wait_for_selector('#replay-bar[data-ready="1"]')
    dot = page.locator('.replay-marker[data-kind="product"]')
    dot.hover()
    assert "Osmanthus oolong" in page.locator("#replay-tip").inner_text()
    dot.click()
    page.wait_for_function(
        "([at]) => { const v = document.getElementById('replay-video');"
        " return Math.abs(v.currentTime - at) < 0.5 && v.readyState >= 2; }",
        arg=[marker["start_ms"] / 1000],
    )
    buy = page.locator('#replay-products [data-act="buy"]')
    href = buy.get_attribute("href")
    assert href is not None
    assert href.startswith(f"/products/{s.product['id']}?source=replay&show_id={s.id}")
    assert page.locator("#replay-edit").is_hidden()  # a viewer does not edit

    # The host renames the product's marker on the page.
    host = page_at(f"/login?next=/shows/{s.id}/replay")
    host.locator('input[name="email"]').fill(s.host["email"])
    host.locator('input[name="password"]').fill(PASSWORD)
    host.locator('button[type="submit"]').click()
    host.wait_for_url(f"**/shows/{s.id}/replay")
    row = host.locator(f'#edit-list [data-marker-id="{marker["id"]}"]')
    row.locator('input[name="label"]').fill("Tea, brewed")
    row.locator('[data-act="save"]').click()
    wait_for(
        lambda: any(
            m["label"] == "Tea, brewed"
            for m in http.get(f"/api/v1/shows/{s.id}/replay").json()["markers"]
        ),
        timeout=5,
        what="the edited label",
    )

    # A viewer follows the replay's buy link: the bag line, then the order, carry the replay,
    # the show and the video time the link was made at.
    query = dict(parse_qsl(urlsplit(href).query))
    buyer = page_at(f"/login?next={quote(href, safe='')}")
    buyer.locator('input[name="email"]').fill(viewer["email"])
    buyer.locator('input[name="password"]').fill(PASSWORD)
    buyer.locator('button[type="submit"]').click()
    buyer.wait_for_url("**/products/**")
    buyer.locator('#buy-form [type="submit"]').click()
    buyer.wait_for_url("**/cart")
    (line,) = http.get("/api/v1/cart", headers=viewer["headers"]).json()["lines"]
    assert (line["source"], line["show_id"]) == ("replay", s.id)
    assert line["video_time_ms"] == int(query["video_time_ms"])
    ship_to = {"name": "Mei", "phone": "13800138000", "region": "Shanghai", "address": "1 Bund Rd"}
    placed = http.post(
        "/api/v1/checkout",
        json={"ship_to": ship_to},
        headers={**viewer["headers"], "Idempotency-Key": f"replay-buy-{s.id}"},
    )
    assert placed.status_code == 201, placed.text
    (order,) = placed.json()
    assert (order["source"], order["show_id"], order["host_id"], order["video_time_ms"]) == (
        "replay",
        s.id,
        s.host["user"]["id"],
        int(query["video_time_ms"]),
    )


def packager_pids(show_id: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if f"/live/show-{show_id}\0".encode() in cmdline:
                pids.append(int(entry))
    return pids


def test_a_broken_recording_still_makes_a_playable_replay(
    media_server: MediaServer, http: httpx.Client, publishers: Publish
) -> None:
    s = scheduled_show(http)
    pub = publishers(media_server.rtmp(s.key), 30)
    wait_for(lambda: show_state(http, s.id) == "live", timeout=5, what="going live")
    folder = media_server.show_dir(s.id)
    wait_for(lambda: len(list(folder.glob("r001-*.ts"))) >= 4, timeout=15, what="segments")
    # The packager dies mid-segment, the encoder's connection drops, the recording is cut short.
    for pid in packager_pids(s.id):
        os.kill(pid, signal.SIGKILL)
    pub.send_signal(signal.SIGKILL)
    recording = folder / "ingest-r001.mkv"
    with recording.open("r+b") as f:
        f.truncate(recording.stat().st_size // 2)
    assert http.post(f"/api/v1/shows/{s.id}/end", headers=s.host["headers"]).status_code == 200
    replay = wait_for(
        lambda: (r := http.get(f"/api/v1/shows/{s.id}/replay").json())["status"] == "ready" and r,
        timeout=10,
        what="the replay",
    )
    assert replay["duration_ms"] >= 3000
    text = (folder / "replay.m3u8").read_text()
    assert text.rstrip().endswith("#EXT-X-ENDLIST")
    decoded = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(folder / "replay.m3u8"), "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert decoded.returncode == 0, decoded.stderr
    assert decoded.stderr == ""
