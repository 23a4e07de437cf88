"""Content-adaptive replay encoding (窄带高清): per scene, denoise if the camera was noisy and pick
the x264 CRF that reaches a VMAF target, instead of one bitrate for the whole show."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from livecart.video.analysis import (
    SourceScan,
    denoise_filter,
    estimate_noise,
    plan_scenes,
    scan_source,
)
from livecart.video.crf import search_crf
from livecart.video.ffmpeg import Progress, input_window, run_ffmpeg, video_kbps
from livecart.video.package import package
from livecart.video.vmaf import measure_vmaf

DEFAULT_TARGET_VMAF = 93.0
X264_PRESET = "slow"
SEGMENT_S = 4.0
PROBE_S = 3.0  # probe encodes cover this much of the middle of each scene
# A VBV ceiling: CRF alone would spend 15 Mbit/s on residual grain; viewers' links will not.
MAX_KBPS = 5000
TARGET_MARGIN = 0.5  # probes aim this far above the target: a whole scene scores below its middle

OutputKind = Literal["hls", "mp4"]


@dataclass(frozen=True)
class SceneReport:
    start_s: float
    end_s: float
    noise_sigma: float
    denoise: str
    crf: float
    probes: list[tuple[float, float]]  # (crf, vmaf) of the probe encodes
    kbps: float
    vmaf_mean: float
    vmaf_min: float


@dataclass(frozen=True)
class EncodeReport:
    output: Path  # the playlist (hls) or the file (mp4)
    kind: OutputKind
    duration_s: float
    bitrate_kbps: float  # video stream only
    vmaf_mean: float  # frame-weighted over scenes, against the (denoised) source
    vmaf_min: float
    target_vmaf: float
    encode_time_s: float
    keyframes_forced_s: list[float]
    scenes: list[SceneReport] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["output"] = str(self.output)
        return data


def encode_replay(
    source: Path,
    out_dir: Path,
    *,
    markers_s: Sequence[float] = (),
    target_vmaf: float = DEFAULT_TARGET_VMAF,
    kind: OutputKind = "hls",
    progress: Progress | None = None,
    preset: str = X264_PRESET,
    vmaf_subsample: int = 1,
) -> EncodeReport:
    """Encode the host's original recording `source` into `out_dir` for replay.

    `markers_s` are times (s, from the start of the source) that must be key frames so a seek to
    a product's moment lands exactly. A truncated or damaged source is encoded as far as it
    decodes; VideoError(`video_undecodable`) when nothing does. `progress(fraction)` is called
    from this thread, ending with 1.0.
    """
    began = time.monotonic()
    report = _Progress(progress)
    out_dir.mkdir(parents=True, exist_ok=True)
    scan = scan_source(source)
    report(0.05)
    fps = scan.info.fps
    scenes = plan_scenes(scan.duration_s, scan.cuts_s, fps)
    markers = sorted({round(m, 3) for m in markers_s if 0 < m < scan.duration_s})
    target = min(99.0, target_vmaf)
    results: list[SceneReport] = []
    with tempfile.TemporaryDirectory(prefix="replay-", dir=out_dir) as tmp_name:
        tmp = Path(tmp_name)
        chunks: list[Path] = []
        done_s = 0.0
        for i, (start, end) in enumerate(scenes):
            part = report.part(
                0.05 + 0.9 * done_s / scan.duration_s, 0.9 * (end - start) / scan.duration_s
            )
            chunk = tmp / f"scene_{i:04d}.ts"
            scene = _encode_scene(
                source,
                chunk,
                scan,
                (start, end),
                target=target,
                preset=preset,
                markers=markers,
                subsample=vmaf_subsample,
                progress=part,
            )
            results.append(scene)
            chunks.append(chunk)
            done_s += end - start
        output = package(
            chunks,
            source,
            out_dir,
            kind=kind,
            duration_s=scan.duration_s,
            has_audio=scan.info.has_audio,
            segment_s=SEGMENT_S,
        )
    report(1.0)
    frames_weight = [s.end_s - s.start_s for s in results]
    total = sum(frames_weight)
    return EncodeReport(
        output=output,
        kind=kind,
        duration_s=round(scan.duration_s, 3),
        bitrate_kbps=round(
            sum(s.kbps * w for s, w in zip(results, frames_weight, strict=True)) / total, 1
        ),
        vmaf_mean=round(
            sum(s.vmaf_mean * w for s, w in zip(results, frames_weight, strict=True)) / total, 2
        ),
        vmaf_min=round(min(s.vmaf_min for s in results), 2),
        target_vmaf=target,
        encode_time_s=round(time.monotonic() - began, 1),
        keyframes_forced_s=markers,
        scenes=results,
    )


class _Progress:
    """Monotonic fractions to the caller's callback."""

    def __init__(self, callback: Progress | None) -> None:
        self.callback = callback
        self.last = 0.0

    def part(self, offset: float, width: float) -> Progress:
        """A callback for one step: its 0..1 becomes offset..offset + width overall."""
        return lambda fraction: self(offset + width * fraction)

    def __call__(self, fraction: float) -> None:
        fraction = min(1.0, max(self.last, fraction))
        if self.callback is not None and (fraction - self.last >= 0.005 or fraction == 1.0):
            self.last = fraction
            self.callback(fraction)


def x264_args(crf: float, preset: str, fps: float) -> list[str]:
    return [
        "-c:v",
        "libx264",
        "-preset",
        preset,
        "-crf",
        f"{crf:g}",
        "-maxrate",
        f"{MAX_KBPS}k",
        "-bufsize",
        f"{2 * MAX_KBPS}k",
        "-g",
        str(round(fps * SEGMENT_S)),
        "-pix_fmt",
        "yuv420p",
    ]


def _encode_scene(
    source: Path,
    chunk: Path,
    scan: SourceScan,
    scene: tuple[float, float],
    *,
    target: float,
    preset: str,
    markers: list[float],
    subsample: int,
    progress: Progress,
) -> SceneReport:
    start, end = scene
    fps = scan.info.fps
    sigma = estimate_noise(source, at_s=(start + end) / 2, info=scan.info)
    denoise = denoise_filter(sigma)
    crf, probes = _probe_crf(source, chunk.parent, scene, fps, denoise, target, preset)
    progress(0.4)
    keyframes = [t - start for t in _keyframe_grid(start, end)]
    keyframes += [m - start for m in markers if start < m < end]
    vf = ",".join(f for f in (denoise, "setpts=PTS-STARTPTS", f"fps={fps:g}") if f)
    args: list[str | Path] = input_window(source, start, end - start)
    args += ["-map", "0:v:0", "-vf", vf, *x264_args(crf, preset, fps)]
    if keyframes:
        # The first frame at or after each time becomes a key frame (a hair early: float times).
        times = ",".join(f"{max(0.0, k - 0.001):.4f}" for k in sorted(keyframes))
        args += ["-force_key_frames", times]
    args += ["-f", "mpegts", chunk]
    run_ffmpeg(args, duration_s=end - start, progress=lambda f: progress(0.4 + 0.45 * f))
    score = measure_vmaf(
        chunk,
        source,
        reference_start_s=start,
        duration_s=end - start,
        reference_filter=denoise,
        subsample=subsample,
    )
    progress(1.0)
    return SceneReport(
        start_s=round(start, 3),
        end_s=round(end, 3),
        noise_sigma=round(sigma, 2),
        denoise=denoise,
        crf=crf,
        probes=[(c, round(v, 2)) for c, v in probes],
        kbps=round(video_kbps(chunk, end - start), 1),
        vmaf_mean=round(score.mean, 2),
        vmaf_min=round(score.min, 2),
    )


def _keyframe_grid(start: float, end: float) -> list[float]:
    """Segment boundaries (every SEGMENT_S from the source's start) inside the scene."""
    first = int(start // SEGMENT_S) + 1
    return [k * SEGMENT_S for k in range(first, int(end // SEGMENT_S) + 1) if k * SEGMENT_S < end]


def _probe_crf(
    source: Path,
    tmp: Path,
    scene: tuple[float, float],
    fps: float,
    denoise: str,
    target: float,
    preset: str,
) -> tuple[float, list[tuple[float, float]]]:
    """Search the CRF on a lossless copy of the middle of the scene (denoised if it will be)."""
    start, end = scene
    length = min(PROBE_S, end - start)
    at = start + (end - start - length) / 2
    reference = tmp / "probe_ref.mkv"
    vf = ",".join(f for f in (denoise, "setpts=PTS-STARTPTS", f"fps={fps:g}") if f)
    args = input_window(source, at, length)
    args += ["-map", "0:v:0", "-vf", vf, "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0"]
    run_ffmpeg([*args, reference])
    probe = tmp / "probe.mp4"

    def measure(crf: float) -> float:
        run_ffmpeg(["-i", reference, "-map", "0:v:0", *x264_args(crf, preset, fps), probe])
        return measure_vmaf(probe, reference).mean

    return search_crf(measure, target + TARGET_MARGIN)
