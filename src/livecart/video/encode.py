"""Content-adaptive replay encoding (窄带高清): per scene, denoise if the camera was noisy and pick
the x264 CRF so the show reaches a mean VMAF target for the fewest bits, instead of one bitrate
for the whole show. How it decides: docs/video-encoding.md."""

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
from livecart.video.crf import SceneProbes, allocate_crf, search_crf
from livecart.video.ffmpeg import Progress, input_window, run_ffmpeg, video_kbps
from livecart.video.package import package
from livecart.video.vmaf import measure_vmaf

DEFAULT_TARGET_VMAF = 93.0
X264_PRESET = "slow"
# psy-rd off, aq-mode 2: about 10 % fewer bits for the same VMAF on the benchmark's clips
# (VMAF does not reward psy-rd's kept grain and texture). A visual trade, said in the docs.
X264_TUNE = "ssim"
SEGMENT_S = 4.0
PROBE_S = 3.0  # probe encodes cover this much of the middle of each scene
# A VBV ceiling: CRF alone would spend 15 Mbit/s on residual grain; viewers' links will not.
MAX_KBPS = 5000
TARGET_MARGIN = 0.5  # probes aim this far above the target: a whole scene scores below its middle
# A perfect copy of a still scene scores about 98.4, not 100: aiming closer to a scene's own
# ceiling than this only buys bits.
CEILING_GAP = 0.1

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

    The length-weighted mean VMAF of the scenes aims at `target_vmaf` (capped at 99), each scene
    scored against the source as the encoder got it (denoised where it denoises). `markers_s`
    are times (s, from the first frame) that must be key frames so a seek to a product's moment
    lands exactly. A truncated or damaged source is encoded as far as it decodes;
    VideoError(`video_undecodable`) when nothing does. `progress(fraction)` is called from this
    thread, ending with 1.0. `vmaf_subsample` > 1 scores every n-th frame (long shows).
    """
    began = time.monotonic()
    report = _Progress(progress)
    out_dir.mkdir(parents=True, exist_ok=True)
    scan = scan_source(source, progress=report.part(0.0, 0.05))
    report(0.05)
    spans = plan_scenes(scan.duration_s, scan.cuts_s, scan.info.fps)
    markers = sorted({round(m, 3) for m in markers_s if 0 < m < scan.duration_s})
    target = min(99.0, target_vmaf)
    with tempfile.TemporaryDirectory(prefix="replay-", dir=out_dir) as tmp_name:
        tmp = Path(tmp_name)
        plans = []
        for i, span in enumerate(spans):
            plans.append(_plan_scene(source, tmp, scan, span, target=target, preset=preset))
            report(0.05 + 0.35 * (i + 1) / len(spans))
        crfs = allocate_crf([p.probes for p in plans], _aim(plans, target))
        results: list[SceneReport] = []
        for i, (plan, crf) in enumerate(zip(plans, crfs, strict=True)):
            part = report.part(0.4 + 0.55 * plan.start / scan.duration_s,
                               0.55 * (plan.end - plan.start) / scan.duration_s)  # fmt: skip
            chunk = tmp / f"scene_{i:04d}.ts"
            results.append(_encode_scene(source, chunk, scan, plan, crf=crf, preset=preset,
                                         markers=markers, subsample=vmaf_subsample,
                                         progress=part))  # fmt: skip
        output = package(
            [tmp / f"scene_{i:04d}.ts" for i in range(len(plans))],
            source,
            out_dir,
            kind=kind,
            duration_s=scan.duration_s,
            has_audio=scan.info.has_audio,
            segment_s=SEGMENT_S,
            cuts_s=markers,
        )
    report(1.0)
    return _summary(output, kind, scan.duration_s, target, began, markers, results)


def _summary(
    output: Path,
    kind: OutputKind,
    duration_s: float,
    target: float,
    began: float,
    markers: list[float],
    scenes: list[SceneReport],
) -> EncodeReport:
    weights = [s.end_s - s.start_s for s in scenes]
    total = sum(weights)

    def mean(values: list[float]) -> float:
        return sum(v * w for v, w in zip(values, weights, strict=True)) / total

    return EncodeReport(
        output=output,
        kind=kind,
        duration_s=round(duration_s, 3),
        bitrate_kbps=round(mean([s.kbps for s in scenes]), 1),
        vmaf_mean=round(mean([s.vmaf_mean for s in scenes]), 2),
        vmaf_min=round(min(s.vmaf_min for s in scenes), 2),
        target_vmaf=target,
        encode_time_s=round(time.monotonic() - began, 1),
        keyframes_forced_s=markers,
        scenes=scenes,
    )


@dataclass(frozen=True)
class _ScenePlan:
    start: float
    end: float
    noise_sigma: float
    denoise: str
    probes: SceneProbes


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
    rate = ["-crf", f"{crf:g}", "-maxrate", f"{MAX_KBPS}k", "-bufsize", f"{2 * MAX_KBPS}k"]
    gop = ["-g", str(round(fps * SEGMENT_S)), "-pix_fmt", "yuv420p"]
    return ["-c:v", "libx264", "-preset", preset, "-tune", X264_TUNE, *rate, *gop]


def _plan_scene(
    source: Path,
    tmp: Path,
    scan: SourceScan,
    span: tuple[float, float],
    *,
    target: float,
    preset: str,
) -> _ScenePlan:
    start, end = span
    sigma = estimate_noise(source, at_s=(start + end) / 2, info=scan.info)
    denoise = denoise_filter(sigma)
    probes = _probe_scene(source, tmp, span, scan.info.fps, denoise, target, preset)
    return _ScenePlan(start, end, sigma, denoise, probes)


def _encode_scene(
    source: Path,
    chunk: Path,
    scan: SourceScan,
    plan: _ScenePlan,
    *,
    crf: float,
    preset: str,
    markers: list[float],
    subsample: int,
    progress: Progress,
) -> SceneReport:
    start, end = plan.start, plan.end
    fps = scan.info.fps
    keyframes = [t - start for t in _keyframe_grid(start, end)]
    keyframes += [m - start for m in markers if start < m < end]
    vf = ",".join(f for f in (plan.denoise, "setpts=PTS-STARTPTS", f"fps={fps:g}") if f)
    args: list[str | Path] = input_window(source, start, end - start)
    args += ["-map", "0:v:0", "-vf", vf, *x264_args(crf, preset, fps)]
    if keyframes:
        # The first frame at or after each time becomes a key frame (a hair early: float times).
        times = ",".join(f"{max(0.0, k - 0.001):.4f}" for k in sorted(keyframes))
        args += ["-force_key_frames", times]
    args += ["-f", "mpegts", chunk]
    run_ffmpeg(args, duration_s=end - start, progress=lambda f: progress(0.8 * f))
    score = measure_vmaf(
        chunk,
        source,
        reference_start_s=start,
        duration_s=end - start,
        reference_filter=plan.denoise,
        subsample=subsample,
    )
    progress(1.0)
    return SceneReport(
        start_s=round(start, 3),
        end_s=round(end, 3),
        noise_sigma=round(plan.noise_sigma, 2),
        denoise=plan.denoise,
        crf=crf,
        probes=[(c, round(v, 2)) for c, v, _ in plan.probes.points],
        kbps=round(video_kbps(chunk, end - start), 1),
        vmaf_mean=round(score.mean, 2),
        vmaf_min=round(score.min, 2),
    )


def _keyframe_grid(start: float, end: float) -> list[float]:
    """Segment boundaries (every SEGMENT_S from the source's start) inside the scene."""
    first = int(start // SEGMENT_S) + 1
    return [k * SEGMENT_S for k in range(first, int(end // SEGMENT_S) + 1) if k * SEGMENT_S < end]


def _probe_scene(
    source: Path,
    tmp: Path,
    span: tuple[float, float],
    fps: float,
    denoise: str,
    target: float,
    preset: str,
) -> SceneProbes:
    """Probe encodes of a lossless copy of the middle of the scene (denoised if it will be),
    CRFs chosen by search_crf around `target`."""
    start, end = span
    length = min(PROBE_S, end - start)
    at = start + (end - start - length) / 2
    reference = tmp / "probe_ref.mkv"
    vf = ",".join(f for f in (denoise, "setpts=PTS-STARTPTS", f"fps={fps:g}") if f)
    args = input_window(source, at, length)
    args += ["-map", "0:v:0", "-vf", vf, "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0"]
    run_ffmpeg([*args, reference])
    probe = tmp / "probe.mp4"
    rates: dict[float, float] = {}

    def measure(crf: float) -> float:
        run_ffmpeg(["-i", reference, "-map", "0:v:0", *x264_args(crf, preset, fps), probe])
        rates[crf] = video_kbps(probe, length)
        return measure_vmaf(probe, reference).mean

    ceiling = measure_vmaf(reference, reference).mean
    _, tried = search_crf(measure, min(target + TARGET_MARGIN, ceiling - CEILING_GAP))
    return SceneProbes(end - start, [(c, v, rates[c]) for c, v in tried], ceiling=ceiling)


def _aim(plans: list[_ScenePlan], target: float) -> float:
    """The mean VMAF to allocate for: the target plus the margin, or just under what perfect
    copies of the scenes would score when that is lower."""
    seconds = sum(p.end - p.start for p in plans)
    ceiling = sum((p.end - p.start) * p.probes.ceiling for p in plans) / seconds
    return min(target + TARGET_MARGIN, ceiling - CEILING_GAP)
