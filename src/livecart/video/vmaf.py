"""VMAF of an encode against its reference, with libvmaf from the imageio-ffmpeg binary."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from livecart.video.ffmpeg import VideoError, input_window, run_ffmpeg


@dataclass(frozen=True)
class VmafScore:
    mean: float
    min: float
    frames: int


def measure_vmaf(
    distorted: Path,
    reference: Path,
    *,
    reference_start_s: float = 0.0,
    duration_s: float | None = None,
    reference_filter: str = "",
    subsample: int = 1,
    threads: int = 2,
) -> VmafScore:
    """Score `distorted` (from its start) against `reference` from `reference_start_s`.

    `reference_filter` is applied to the reference first (the encoder scores a denoised scene
    against the denoised picture it set out to keep). The distorted clip is scaled to the
    reference's size. Both are put on the reference's frame grid so frames pair up.
    """
    ref_chain = "setpts=PTS-STARTPTS"
    if reference_filter:
        ref_chain = f"{reference_filter},{ref_chain}"
    with tempfile.TemporaryDirectory(prefix="vmaf-") as tmp:
        log_path = Path(tmp) / "vmaf.json"
        graph = (
            f"[1:v]{ref_chain},format=yuv420p,split[ref][size];"
            f"[0:v]setpts=PTS-STARTPTS,format=yuv420p[d0];"
            f"[d0][size]scale2ref=flags=bicubic[dist][_];[_]nullsink;"
            f"[dist][ref]libvmaf=n_threads={threads}:n_subsample={subsample}"
            f":log_fmt=json:log_path={log_path}:shortest=1"
        )
        args: list[str | Path] = ["-i", distorted]
        args += input_window(reference, reference_start_s, duration_s)
        args += ["-lavfi", graph, "-f", "null", "-"]
        run_ffmpeg(args)
        try:
            data = json.loads(log_path.read_text())
        except (OSError, ValueError) as exc:
            raise VideoError("vmaf_failed", "libvmaf wrote no score") from exc
    frames = data.get("frames", [])
    pooled = data.get("pooled_metrics", {}).get("vmaf")
    if not frames or pooled is None:
        raise VideoError("vmaf_failed", "no frames were compared")
    return VmafScore(mean=float(pooled["mean"]), min=float(pooled["min"]), frames=len(frames))
