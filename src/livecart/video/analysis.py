"""What the encoder needs to know about a source before it spends bits: how much of it decodes,
where the scenes change, and how noisy each scene is."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from livecart.video.ffmpeg import (
    Progress,
    VideoError,
    VideoInfo,
    input_window,
    parse_stream_info,
    run_ffmpeg,
)

SCENE_THRESHOLD = 12.0  # scdet score (0-100) above which a frame starts a new scene
MIN_SCENE_S = 2.0  # shorter scenes join the previous one: a CRF per flash is not worth a probe
MAX_SCENE_S = 30.0  # longer scenes are cut in chunks so the CRF follows slow changes
NOISE_BLOCK_PX = 16


@dataclass(frozen=True)
class SourceScan:
    info: VideoInfo
    duration_s: float  # of the decodable video
    frames: int
    cuts_s: list[float]  # scene-change times found by scdet


def scan_source(source: Path, *, progress: Progress | None = None) -> SourceScan:
    """Decode the whole first video stream once: decodable length, frame rate, scene changes.

    `progress` goes by the container's stated duration. A truncated or damaged file is scanned
    as far as it decodes. Raises VideoError
    (`video_undecodable`) when no frame decodes.
    """
    args: list[str | Path] = ["-loglevel", "info", "-err_detect", "ignore_err", "-i", source]
    args += ["-map", "0:v:0", "-vf", f"scdet=threshold={SCENE_THRESHOLD}", "-f", "null", "-"]
    try:
        _, log = run_ffmpeg(args, progress=progress)
    except VideoError as exc:
        log = str(exc.data.get("log", ""))
        if "frame=" not in log:
            raise VideoError(
                "video_undecodable", f"no video decodes from {source.name}", log=log
            ) from exc
    info = parse_stream_info(log)
    frames = _last_int(r"frame=\s*(\d+)", log)
    if info is None or frames == 0:
        raise VideoError("video_undecodable", f"no video decodes from {source.name}", log=log)
    duration_s = frames / info.fps
    cuts = [float(t) for t in re.findall(r"lavfi\.scd\.time: ([\d.]+)", log)]
    return SourceScan(info=info, duration_s=duration_s, frames=frames, cuts_s=cuts)


def _last_int(pattern: str, text: str) -> int:
    found = re.findall(pattern, text)
    return int(found[-1]) if found else 0


def plan_scenes(duration_s: float, cuts_s: list[float], fps: float) -> list[tuple[float, float]]:
    """Scenes as (start, end) seconds on the frame grid: cuts closer than MIN_SCENE_S merge,
    scenes longer than MAX_SCENE_S are split evenly."""
    frame = 1.0 / fps
    bounds = [0.0]
    for cut in sorted(cuts_s):
        cut = round(cut * fps) * frame
        if cut - bounds[-1] >= MIN_SCENE_S and duration_s - cut >= MIN_SCENE_S:
            bounds.append(cut)
    bounds.append(duration_s)
    scenes: list[tuple[float, float]] = []
    for start, end in itertools.pairwise(bounds):
        pieces = max(1, int(np.ceil((end - start) / MAX_SCENE_S)))
        step = (end - start) / pieces
        edges = [start + i * step for i in range(pieces)] + [end]
        edges = [round(e * fps) * frame for e in edges[:-1]] + [end]
        scenes += list(itertools.pairwise(edges))
    return [(s, e) for s, e in scenes if e - s >= frame / 2]


def estimate_noise(source: Path, *, at_s: float, info: VideoInfo, frames: int = 4) -> float:
    """Sensor-noise sigma (8-bit luma levels) around `at_s`.

    Camera noise changes every frame and is there even in flat areas; detail and motion are not
    noise. So: take the flattest tenth of 16x16 blocks in each frame and measure how much they
    change to the next frame (std of the difference / sqrt 2).
    """
    args = input_window(source, at_s, None)
    args += ["-map", "0:v:0", "-frames:v", str(frames), "-vf", "format=gray", "-f", "rawvideo", "-"]
    raw, _ = run_ffmpeg(args, stdout=True)
    size = info.width * info.height
    count = len(raw) // size
    if count < 2:
        return 0.0
    video = np.frombuffer(raw[: count * size], np.uint8).reshape(count, info.height, info.width)
    estimates = [
        _flat_block_noise(a.astype(np.float32), b.astype(np.float32))
        for a, b in itertools.pairwise(video)
    ]
    return float(np.median(estimates))


def _flat_block_noise(a: np.ndarray, b: np.ndarray) -> float:
    n = NOISE_BLOCK_PX
    h, w = a.shape[0] - a.shape[0] % n, a.shape[1] - a.shape[1] % n

    def blocks(x: np.ndarray) -> np.ndarray:
        return x[:h, :w].reshape(h // n, n, w // n, n).swapaxes(1, 2).reshape(-1, n * n)

    spatial = blocks(a).std(axis=1)
    temporal = blocks(b - a).std(axis=1)
    flattest = np.argsort(spatial)[: max(1, len(spatial) // 10)]
    return float(np.median(temporal[flattest]) / np.sqrt(2))


def denoise_filter(sigma: float) -> str:
    """hqdn3d strength for a noise sigma; empty for a clean picture.

    Calibrated on synthetic low-light noise: sigma 7 needs about 8:6:16:12 before x264 stops
    spending most of its bits on grain; below 1.5 denoising only costs detail.
    """
    if sigma < 1.5:
        return ""
    luma = min(8.0, max(2.0, 1.15 * sigma))
    return f"hqdn3d={luma:.1f}:{0.75 * luma:.1f}:{2 * luma:.1f}:{1.5 * luma:.1f}"
