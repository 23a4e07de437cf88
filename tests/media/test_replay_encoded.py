"""The replay plays its smaller rendition once it is encoded: the API and the page switch to it,
its segments start at the markers, and a marker still shows the moment it marks (checked with
the clock burnt into the frames) even across a stream that dropped and came back."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from livecart.features.media.rules import vtt_time
from tests.browser.conftest import PHONE
from tests.media.conftest import (
    MediaServer,
    StreamShow,
    media_tools_or_skip,
    scheduled_show,
    show_state,
    wait_for,
)
from tests.media.test_player_browser import chromium  # noqa: F401 - fixture
from tests.media.test_replay import BITS, captured_ms_at, clock_stream, room_send
from tests.servers import serve

SCREENSHOTS = Path("/tmp/livecart-shots")  # noqa: S108 - looked at by hand, outside the repo


@dataclass
class EncodeServer:
    """A server of this module's own, with the database `livecart replay encode` must use."""

    media: MediaServer
    database_url: str


@pytest.fixture(scope="module")
def encode_server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EncodeServer]:
    media_tools_or_skip()
    data_dir = tmp_path_factory.mktemp("encode-server")
    with serve(
        database_url,
        data_dir,
        LIVECART_STREAM_GRACE_SECS="3",
        LIVECART_SECRET_KEY="media-test-secret",
        LIVECART_RUN_JOBS="false",  # nothing of its own runs under the in-process tests
    ) as server:
        yield EncodeServer(MediaServer(server, data_dir), database_url)


def two_run_show(media_server: MediaServer, http: httpx.Client) -> tuple[StreamShow, int]:
    """A show streamed in two runs (the encoder dropped and came back within the grace
    period), a product explained in the second; ended by the host. Returns the explain's
    t_event."""
    s = scheduled_show(http)
    first = clock_stream(media_server.rtmp(s.key), 5)
    try:
        wait_for(lambda: show_state(http, s.id) == "live", timeout=5, what="going live")
        first.wait(timeout=20)
    finally:
        first.kill()
        first.wait()
    time.sleep(1)
    second = clock_stream(media_server.rtmp(s.key), 9)
    try:
        folder = media_server.show_dir(s.id)
        wait_for(lambda: list(folder.glob("r002-*.ts")), timeout=10, what="the second run")
        time.sleep(1.5)
        (started, _) = room_send(
            media_server,
            s,
            [
                {"type": "explain", "product_id": s.product["id"]},
                {"type": "explain", "product_id": None},
            ],
        )
        second.wait(timeout=20)
    finally:
        second.kill()
        second.wait()
    assert http.post(f"/api/v1/shows/{s.id}/end", headers=s.host["headers"]).status_code == 200
    return s, started


def encode_cli(database_url: str, media_server: MediaServer, show_id: int) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "LIVECART_DATA_DIR": str(media_server.data_dir),
        "LIVECART_SECRET_KEY": "media-test-secret",
    }
    done = subprocess.run(
        [sys.executable, "-m", "livecart", "replay", "encode", str(show_id)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_the_encoded_rendition_plays_with_its_markers_in_place(
    encode_server: EncodeServer,
    chromium: Any,  # noqa: F811
) -> None:
    media_server, database_url = encode_server.media, encode_server.database_url
    with httpx.Client(base_url=media_server.base, timeout=10.0) as http:
        check_encoded_replay(media_server, http, database_url, chromium)


def check_encoded_replay(
    media_server: MediaServer, http: httpx.Client, database_url: str, browser: Any
) -> None:
    s, started = two_run_show(media_server, http)
    replay = wait_for(
        lambda: (r := http.get(f"/api/v1/shows/{s.id}/replay").json())["status"] == "ready" and r,
        timeout=10,
        what="the replay",
    )
    # Until it is encoded, the live recording plays.
    assert replay["rendition"] == "live"
    assert replay["playlist_url"] == f"/live/{s.id}/index.m3u8"
    (live_marker,) = [m for m in replay["markers"] if m["kind"] == "product"]

    encode_cli(database_url, media_server, s.id)
    replay = http.get(f"/api/v1/shows/{s.id}/replay").json()
    assert replay["encode_status"] == "ready"
    assert replay["rendition"] == "encoded"
    assert replay["playlist_url"] == f"/live/{s.id}/encoded/index.m3u8"
    playlist = http.get(replay["playlist_url"])
    assert playlist.status_code == 200
    assert playlist.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    lines = playlist.text.split()
    segments = [line for line in lines if not line.startswith("#")]
    assert segments and all(name.startswith("seg_") for name in segments)
    assert "#EXT-X-ENDLIST" in lines
    seg = http.get(f"/live/{s.id}/encoded/{segments[0]}")
    assert seg.status_code == 200 and seg.content[:1] == b"\x47"
    assert http.get(f"/live/{s.id}/encoded/ingest-all.mkv").status_code == 422  # only segments

    # The markers are given on the encoded rendition's time (each run starts at its first
    # picture, not held as live): the frame at the marker, in the second run, is the host's
    # click within ±1 s, and the same picture the live rendition shows at its marker.
    (marker,) = [m for m in replay["markers"] if m["kind"] == "product"]
    assert marker["id"] == live_marker["id"]
    assert 0 < live_marker["start_ms"] - marker["start_ms"] < 5000, (live_marker, marker)
    durations = [float(x.split(":")[1].rstrip(",")) for x in lines if x.startswith("#EXTINF:")]
    assert abs(sum(durations) * 1000 - replay["duration_ms"]) < 300, (durations, replay)
    encoded = media_server.show_dir(s.id) / "encoded" / "index.m3u8"
    captured = captured_ms_at(encoded, marker["start_ms"])
    assert abs((started % 2**BITS) - captured) <= 1000, (marker, started, captured)
    # (ffmpeg cannot seek across the live replay's discontinuity: read run 2's own playlist)
    folder = media_server.show_dir(s.id)
    run1_ms = sum(
        float(x.split(":")[1].rstrip(",")) * 1000
        for x in (folder / "r001.m3u8").read_text().split()
        if x.startswith("#EXTINF:")
    )
    live_captured = captured_ms_at(folder / "r002.m3u8", round(live_marker["start_ms"] - run1_ms))
    assert abs(live_captured - captured) <= 300, (live_captured, captured)  # the same picture
    # A segment starts at the marker (its key frame): a jump there loads just that segment.
    starts, at = [], 0.0
    for d in durations:
        starts.append(at)
        at += d
    assert any(abs(t * 1000 - marker["start_ms"]) <= 150 for t in starts), (starts, marker)
    # The chapters follow, and a host's edit on this rendition is kept in the live one's time.
    vtt = http.get(f"/api/v1/shows/{s.id}/replay/chapters.vtt").text
    assert f"{vtt_time(marker['start_ms'])} --> {vtt_time(marker['end_ms'])}" in vtt, vtt
    moved = http.patch(
        f"/api/v1/shows/{s.id}/replay/markers/{marker['id']}",
        json={"start_ms": marker["start_ms"] + 100},
        headers=s.host["headers"],
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["start_ms"] == marker["start_ms"] + 100
    http.patch(
        f"/api/v1/shows/{s.id}/replay/markers/{marker['id']}",
        json={"start_ms": marker["start_ms"]},
        headers=s.host["headers"],
    )

    # The page plays the encoded segments and a marker click lands there.
    context = browser.new_context(base_url=media_server.base, viewport=PHONE, locale="en")
    try:
        check_replay_page(context.new_page(), s.id, marker)
    finally:
        context.close()


def check_replay_page(page: Any, show_id: int, marker: dict[str, Any]) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_default_timeout(15_000)
    page.goto(f"/shows/{show_id}/replay")
    page.wait_for_selector('#replay-bar[data-ready="1"]')
    page.locator('.replay-marker[data-kind="product"]').click()
    page.wait_for_function(
        "([at]) => { const v = document.getElementById('replay-video');"
        " return Math.abs(v.currentTime - at) < 0.5 && v.readyState >= 2; }",
        arg=[marker["start_ms"] / 1000],
    )
    loaded = page.evaluate(
        "() => performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname)"
    )
    assert f"/live/{show_id}/encoded/index.m3u8" in loaded
    assert any(p.startswith(f"/live/{show_id}/encoded/seg_") for p in loaded), loaded
    assert not any(p.startswith(f"/live/{show_id}/r0") for p in loaded), loaded
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"replay-encoded-{show_id}.png"))
    assert not errors, errors
