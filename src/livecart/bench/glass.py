"""`livecart bench glass-to-glass`: capture → display delay of the live video path.

ffmpeg makes a synthetic camera whose every frame carries the wall-clock millisecond at which it
was made (RTCTIME in the filter graph), as 24 black/white blocks — a barcode that survives x264.
It publishes over RTMP to the nginx-rtmp of a real `livecart serve`, whose packager makes the HLS.
Headless Chromium opens the viewer's room page (the production player and its settings), and for
every frame it presents (requestVideoFrameCallback) reads the barcode from the picture and takes
the difference to the display time. Everything runs on one machine, so one clock.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from livecart.bench import servers
from livecart.bench.stage import _sign_up

BITS = 24  # capture ms modulo 2**24 (4.6 hours): plenty to take a difference of seconds
COLS, BLOCK = 8, 40  # 8 × 3 blocks of 40 px in a 320 × 180 frame
FPS = 30
CHROMIUM = Path("/usr/bin/chromium")

# For each presented frame: decode the barcode, keep (display time − capture time).
MEASURE_JS = """([bits, cols, block]) => {
  const video = document.getElementById('player');
  const canvas = document.createElement('canvas');
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  window.g2g = [];
  const onFrame = (_now, meta) => {
    canvas.width = video.videoWidth; canvas.height = video.videoHeight;
    ctx.drawImage(video, 0, 0);
    let value = 0;
    for (let i = 0; i < bits; i++) {
      const x = (i % cols) * block + block / 2 - 4;
      const y = Math.floor(i / cols) * block + block / 2 - 4;
      const px = ctx.getImageData(x, y, 8, 8).data;
      let sum = 0;
      for (let p = 0; p < px.length; p += 4) sum += px[p] + px[p + 1] + px[p + 2];
      if (sum / (px.length / 4) / 3 > 128) value += 2 ** i;
    }
    const shown = performance.timeOrigin + meta.expectedDisplayTime;
    const modulus = 2 ** bits;
    let delay = (shown % modulus) - value;
    if (delay < -modulus / 2) delay += modulus;
    window.g2g.push(delay);
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
}"""


def barcode_filter() -> str:
    """Stamp each frame with RTCTIME (µs) as its pts in ms, draw bit i of it as block i, then
    give the frames back their ordinary timestamps."""
    boxes = []
    for i in range(BITS):
        x, y = (i % COLS) * BLOCK, (i // COLS) * BLOCK
        boxes.append(
            f"drawbox=x={x}:y={y}:w={BLOCK}:h={BLOCK}:color=white:t=fill:"
            f"enable='mod(floor(t*1000/{2**i}),2)'"
        )
    return ",".join(
        ["settb=1/1000", "setpts=RTCTIME/1000", *boxes, f"setpts=N/({FPS}*TB)", f"settb=1/{FPS}"]
    )


def publisher_command(url: str, seconds: float) -> list[str]:
    return [
        "ffmpeg",
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-re",
        "-f",
        "lavfi",
        "-i",
        f"color=c=black:s=320x180:r={FPS}",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=44100",
        "-t",
        str(seconds),
        "-vf",
        barcode_filter(),
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-tune",
        "zerolatency",
        "-pix_fmt",
        "yuv420p",
        "-g",
        str(FPS),
        "-c:a",
        "aac",
        "-b:a",
        "64k",
        "-f",
        "flv",
        url,
    ]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _scheduled_show(base: str) -> tuple[int, str]:
    with httpx.Client(base_url=base, timeout=30) as http:
        host = _sign_up(http, "host")
        show = http.post(
            "/api/v1/shows",
            headers={"Authorization": f"Bearer {host['token']}"},
            json={
                "title": "Glass to glass",
                "planned_start": (datetime.now(UTC) + timedelta(minutes=1)).isoformat(),
            },
        )
        show.raise_for_status()
        return int(show.json()["id"]), str(show.json()["stream_key"])


STATS_JS = """() => {
  const v = document.getElementById('player');
  const q = v.getVideoPlaybackQuality();
  return { rate: v.playbackRate, dropped: q.droppedVideoFrames, total: q.totalVideoFrames,
           latency: window.lcPlayer.player.hls?.latency };
}"""


def glass_to_glass(
    seconds: float = 20.0, warmup: float = 6.0, database_url: str = ""
) -> dict[str, Any]:
    for tool in ("nginx", "ffmpeg"):
        if shutil.which(tool) is None:
            raise SystemExit(f"bench glass-to-glass needs {tool}")
    if not CHROMIUM.exists():
        raise SystemExit(f"bench glass-to-glass needs {CHROMIUM}")
    with tempfile.TemporaryDirectory(prefix="livecart-bench-") as tmp:
        data = Path(tmp)
        url = database_url or f"sqlite:///{data / 'bench.db'}"
        with servers.serve(url, data / "server", log_level="warning") as server:
            show_id, key = _scheduled_show(server.base)
            rtmp = f"rtmp://127.0.0.1:{server.rtmp_port}/live/{key}"
            # The key is in this process's arguments: it is the publisher (OBS's place).
            publisher = subprocess.Popen(  # noqa: S603
                publisher_command(rtmp, seconds + warmup + 40),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                watched = _watch(server.base, show_id, seconds=seconds, warmup=warmup)
            finally:
                publisher.kill()
                publisher.wait()
    samples = [s for s in watched["samples"] if 0 < s < 60_000]  # a misread frame is noise
    if not samples:
        raise SystemExit("no frame could be read")
    pdt = [d for d in watched["pdt_delays"] if d is not None] or [0.0]
    return {
        "bench": "glass-to-glass",
        "delay_p50_ms": round(statistics.median(samples)),
        "delay_p95_ms": round(percentile(samples, 0.95)),
        "delay_min_ms": round(min(samples)),
        "delay_max_ms": round(max(samples)),
        "samples": len(samples),
        "unreadable": len(watched["samples"]) - len(samples),
        # The player's own view (server now − hls.js playingDate), as the debug overlay shows it.
        "player_delay_p50_ms": round(statistics.median(pdt)),
        "player": watched["stats"],
        "player_warnings": watched["warnings"][:10],
        "seconds": seconds,
        "segment_secs": 1,
        "path": "ffmpeg (x264 ultrafast) → nginx-rtmp → ffmpeg packager (x264 veryfast) → "
        "1 s HLS → hls.js (production LIVE_CONFIG) in headless Chromium",
    }


def _watch(base: str, show_id: int, *, seconds: float, warmup: float) -> dict[str, Any]:
    """Open the viewer's room page, wait for the picture, settle, then read frames."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"],
        )
        page = browser.new_page(base_url=base)
        warnings: list[str] = []
        page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
        page.goto(f"/shows/{show_id}/live", wait_until="domcontentloaded")
        deadline = time.monotonic() + 30
        while not page.evaluate("() => window.lcPlayer?.player?.playingDate() != null"):
            if time.monotonic() > deadline:
                raise SystemExit("the player did not start playing within 30 s")
            time.sleep(0.2)
        time.sleep(warmup)  # hls.js settles on its live sync position
        page.evaluate(MEASURE_JS, [BITS, COLS, BLOCK])
        pdt_delays = []
        for _ in range(int(seconds * 2)):
            time.sleep(0.5)
            pdt_delays.append(page.evaluate("() => window.lcPlayer.delayMs()"))
        samples = [float(v) for v in page.evaluate("() => window.g2g")]
        stats = page.evaluate(STATS_JS)
        browser.close()
    return {"samples": samples, "pdt_delays": pdt_delays, "stats": stats, "warnings": warnings}
