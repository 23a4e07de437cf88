"""Synthetic sources made with ffmpeg's lavfi generators, for tests and the encoding benchmark.

They stand in for three kinds of show: a host talking in front of a still set, product close-ups
with detail in motion, and a dim room where the camera's noise is most of the signal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from livecart.video.ffmpeg import run_ffmpeg

ClipKind = Literal["talking_head", "product_closeup", "low_light"]
CLIP_KINDS: tuple[ClipKind, ...] = ("talking_head", "product_closeup", "low_light")
LOW_LIGHT_NOISE = 22  # ffmpeg `noise` strength: grain of a small sensor at high gain


def clip_graph(kind: ClipKind, *, width: int, height: int, duration_s: float, fps: int) -> str:
    size, r, d = f"{width}x{height}", fps, duration_s
    fg_w, fg_h = width // 4 // 2 * 2, height // 3 // 2 * 2
    if kind == "talking_head":
        # A still, textured set and one small moving subject.
        return (
            f"perlin=s={size}:r={r}:octaves=4:persistence=0.6:xscale=0.01:yscale=0.01:tscale=0,"
            f"format=yuv420p[bg];testsrc2=s={fg_w}x{fg_h}:r={r}[fg];"
            f"[bg][fg]overlay=x='{width * 3 // 8}+{width // 16}*sin(t*2)':y={height * 3 // 8},"
            f"trim=duration={d}"
        )
    if kind == "product_closeup":
        # Two shots: a zooming fractal (fine detail everywhere), then a zooming test card.
        half = d / 2
        return (
            f"mandelbrot=s={size}:r={r},trim=duration={half},setpts=PTS-STARTPTS[a];"
            f"testsrc2=s={width // 2}x{height // 2}:r={r},scale={size}:flags=bicubic,"
            f"zoompan=z='1+0.004*on':d=1:s={size}:fps={r},trim=duration={d - half},"
            f"setpts=PTS-STARTPTS[b];[a][b]concat=n=2,format=yuv420p"
        )
    # A dim room with a slowly moving subject; noise is added by render_clip(noisy=True).
    return (
        f"perlin=s={size}:r={r}:octaves=3:xscale=0.02:yscale=0.02:tscale=0,format=yuv420p,"
        f"eq=brightness=-0.25:contrast=0.6[bg];testsrc2=s={fg_w}x{fg_h}:r={r},"
        f"eq=brightness=-0.3[fg];[bg][fg]overlay=x='{width * 5 // 16}+{width // 10}*sin(t)'"
        f":y={height // 3},trim=duration={d}"
    )


def render_clip(
    kind: ClipKind,
    path: Path,
    *,
    width: int = 320,
    height: int = 180,
    duration_s: float = 3.0,
    fps: int = 25,
    noisy: bool = False,
    lossless: bool = True,
    audio: bool = False,
) -> Path:
    """Write a clip to `path` (its suffix picks the container: .mkv, .flv, .mp4).

    Lossless by default, so it can be the clean reference; `lossless=False` makes it like an
    OBS ingest recording instead (x264 at high quality). `noisy` adds temporal grain.
    """
    graph = clip_graph(kind, width=width, height=height, duration_s=duration_s, fps=fps)
    if noisy:
        graph += f",noise=alls={LOW_LIGHT_NOISE}:allf=t+u:all_seed=20261125"  # same grain each run
    args: list[str | Path] = ["-f", "lavfi", "-i", graph]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={duration_s}"]
    args += ["-map", "0:v"]
    if lossless:
        args += ["-c:v", "libx264", "-preset", "ultrafast", "-qp", "0"]
    else:
        args += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "16", "-g", str(fps * 2)]
    args += ["-pix_fmt", "yuv420p"]
    if audio:
        args += ["-map", "1:a", "-c:a", "aac", "-b:a", "96k"]
    run_ffmpeg([*args, path])
    return path
