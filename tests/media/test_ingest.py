"""Publishing through nginx-rtmp: the key decides, the show follows its stream, HLS comes out."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable

import httpx

from tests.media.conftest import (
    GRACE_SECS,
    MediaServer,
    scheduled_show,
    show_state,
    wait_for,
)

Publish = Callable[..., subprocess.Popen[bytes]]


def playlist(http: httpx.Client, show_id: int) -> str:
    resp = http.get(f"/live/{show_id}/index.m3u8")
    return resp.text if resp.status_code == 200 else ""


def segments(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.endswith(".ts")]


def test_valid_key_goes_live_packages_hls_and_ends_after_grace(
    media_server: MediaServer, http: httpx.Client, publishers: Publish
) -> None:
    s = scheduled_show(http)
    assert show_state(http, s.id) == "scheduled"
    pub = publishers(media_server.rtmp(s.key), 6)
    wait_for(lambda: show_state(http, s.id) == "live", timeout=5, what="the show to go live")

    text = wait_for(
        lambda: len(segments(playlist(http, s.id))) >= 3 and playlist(http, s.id),
        timeout=10,
        what="three HLS segments",
    )
    assert "#EXT-X-PLAYLIST-TYPE:EVENT" in text
    assert "#EXT-X-TARGETDURATION:1" in text
    assert "#EXT-X-ENDLIST" not in text
    durations = [float(d) for d in re.findall(r"#EXTINF:([\d.]+),", text)]
    assert all(0.9 <= d <= 1.1 for d in durations[:-1]), durations
    assert text.count("#EXT-X-PROGRAM-DATE-TIME:") == len(segments(text))
    resp = http.get(f"/live/{s.id}/index.m3u8")
    assert resp.headers["content-type"] == "application/vnd.apple.mpegurl"
    assert "no-cache" in resp.headers["cache-control"]
    seg = http.get(f"/live/{s.id}/{segments(text)[0]}")
    assert seg.status_code == 200
    assert seg.headers["content-type"] == "video/mp2t"
    assert seg.content[:1] == b"G"  # an MPEG-TS sync byte

    pub.wait(timeout=15)
    stream_end = time.monotonic()
    # Within the grace period the show stays live; after it, it ends by itself.
    time.sleep(1)
    assert show_state(http, s.id) == "live"
    wait_for(lambda: show_state(http, s.id) == "ended", timeout=GRACE_SECS + 4, what="the end")
    final = wait_for(
        lambda: "#EXT-X-ENDLIST" in playlist(http, s.id) and playlist(http, s.id),
        timeout=10,
        what="the replay playlist",
    )
    assert time.monotonic() - stream_end < GRACE_SECS + 10
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in final
    assert len(segments(final)) >= 5
    replay = http.get(f"/api/v1/shows/{s.id}/replay").json()
    assert replay["status"] == "ready"
    assert 5000 <= replay["duration_ms"] <= 7500
    folder = media_server.show_dir(s.id)
    assert (folder / "ingest-r001.mkv").stat().st_size > 10_000

    # The key never reaches a log: livecart's, nginx's or the packager's.
    logs = [media_server.server.log, *media_server.data_dir.glob("nginx/logs/*.log")]
    logs += list(folder.glob("*.log"))
    for path in logs:
        assert s.key not in path.read_text(errors="replace"), path


def test_wrong_and_rotated_keys_are_refused(
    media_server: MediaServer, http: httpx.Client, publishers: Publish
) -> None:
    s = scheduled_show(http)
    wrong = publishers(media_server.rtmp("live_not-a-real-key"), 5)
    assert wrong.wait(timeout=10) != 0
    rotated = http.post(f"/api/v1/shows/{s.id}/stream-key", headers=s.host["headers"])
    assert rotated.status_code == 200
    old = publishers(media_server.rtmp(s.key), 5)
    assert old.wait(timeout=10) != 0
    assert show_state(http, s.id) == "scheduled"
    log = media_server.server.log.read_text()
    assert "refused a publish" in log
    assert "live_not-a-real-key" not in log
    assert s.key not in log


def test_second_publisher_is_refused(
    media_server: MediaServer, http: httpx.Client, publishers: Publish
) -> None:
    s = scheduled_show(http)
    first = publishers(media_server.rtmp(s.key), 8)
    wait_for(lambda: show_state(http, s.id) == "live", timeout=5, what="the show to go live")
    second = publishers(media_server.rtmp(s.key), 5)
    assert second.wait(timeout=10) != 0
    assert first.poll() is None  # the first one streams on
    first.kill()


def test_stream_back_within_grace_continues_the_show(
    media_server: MediaServer, http: httpx.Client, publishers: Publish
) -> None:
    s = scheduled_show(http)
    publishers(media_server.rtmp(s.key), 4).wait(timeout=15)
    assert show_state(http, s.id) == "live"
    time.sleep(1)
    again = publishers(media_server.rtmp(s.key), 4)
    time.sleep(2)
    assert show_state(http, s.id) == "live"
    again.wait(timeout=15)
    text = wait_for(
        lambda: "#EXT-X-DISCONTINUITY\n" in playlist(http, s.id) and playlist(http, s.id),
        timeout=5,
        what="the second run in the playlist",
    )
    runs = {line.split("-")[0] for line in segments(text)}
    assert runs == {"r001", "r002"}
    # The host ends it meanwhile: no grace needed, the replay closes at once.
    ended = http.post(f"/api/v1/shows/{s.id}/end", headers=s.host["headers"])
    assert ended.status_code == 200, ended.text
    wait_for(
        lambda: "#EXT-X-ENDLIST" in playlist(http, s.id), timeout=10, what="the replay playlist"
    )


def test_ending_the_show_drops_the_encoder(
    media_server: MediaServer, http: httpx.Client, publishers: Publish
) -> None:
    """The host ends the show from the console while the encoder still streams: nginx-rtmp's
    control module drops it, the replay closes with what was streamed, and the encoder coming
    back (as OBS reconnects) is refused."""
    s = scheduled_show(http)
    pub = publishers(media_server.rtmp(s.key), 60)
    wait_for(lambda: show_state(http, s.id) == "live", timeout=5, what="the show to go live")
    wait_for(lambda: len(segments(playlist(http, s.id))) >= 3, timeout=10, what="segments")
    ended_at = time.monotonic()
    ended = http.post(f"/api/v1/shows/{s.id}/end", headers=s.host["headers"])
    assert ended.status_code == 200, ended.text
    pub.wait(timeout=10)  # ffmpeg exits when nginx drops its connection
    assert time.monotonic() - ended_at < 5
    replay = wait_for(
        lambda: (r := http.get(f"/api/v1/shows/{s.id}/replay").json())["status"] == "ready" and r,
        timeout=10,
        what="the replay",
    )
    assert replay["duration_ms"] >= 3000
    text = playlist(http, s.id)
    assert text.rstrip().endswith("#EXT-X-ENDLIST")
    assert len(segments(text)) >= 3
    again = publishers(media_server.rtmp(s.key), 5)
    assert again.wait(timeout=10) != 0
    log = media_server.server.log.read_text()
    assert f"show {s.id}: ended while streaming; publisher dropped" in log
    assert s.key not in log
    nginx_log = (media_server.data_dir / "nginx" / "logs" / "error.log").read_text()
    assert s.key not in nginx_log
