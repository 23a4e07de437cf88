"""`livecart bench replay-encode`: the content-adaptive replay encoder against the live rendition.

Synthetic shows of three kinds (see livecart.video.clips) are encoded twice: as the live rendition
is (x264 at 2500 kbit/s, preset veryfast) and by encode_replay. Both are scored with VMAF against
the clean source (for the noisy room: the picture before the grain was added).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from livecart.video.clips import CLIP_KINDS, ClipKind, render_clip
from livecart.video.encode import DEFAULT_TARGET_VMAF, X264_PRESET, X264_TUNE, encode_replay
from livecart.video.ffmpeg import run_ffmpeg, video_kbps
from livecart.video.vmaf import measure_vmaf

BASELINE_KBPS = 2500
BASELINE_PRESET = "veryfast"
FULL = {"width": 960, "height": 540, "seconds": 8.0}
QUICK = {"width": 320, "height": 180, "seconds": 2.0}


def replay_encode(*, quick: bool = False) -> dict[str, Any]:
    size = QUICK if quick else FULL
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-replay-") as tmp_name:
        tmp = Path(tmp_name)
        clips = [_one_clip(kind, tmp, size) for kind in CLIP_KINDS]
    fair = [c for c in clips if c["equal_or_better"]]
    return {
        "bench": "replay-encode",
        "size": f"{size['width']}x{size['height']}",
        "seconds_per_clip": size["seconds"],
        "baseline": f"x264 -b:v {BASELINE_KBPS}k -preset {BASELINE_PRESET}",
        "ours": f"encode_replay: x264 -preset {X264_PRESET} -tune {X264_TUNE}, CRF per scene "
        "for a mean VMAF target, "
        "hqdn3d on noisy scenes",
        "target_rule": f"max({DEFAULT_TARGET_VMAF:g}, baseline VMAF)",
        "vmaf_reference": "clean source",
        "clips": clips,
        # The goal's figure: mean saving over the clips where ours is at equal or better VMAF.
        "saving_pct": _mean([c["saving_pct"] for c in fair]),
        "saving_pct_all_clips": _mean([c["saving_pct"] for c in clips]),
        "clips_below_baseline_vmaf": [c["clip"] for c in clips if not c["equal_or_better"]],
        "elapsed_s": round(time.monotonic() - began, 1),
    }


def _one_clip(kind: ClipKind, tmp: Path, size: dict[str, Any]) -> dict[str, Any]:
    shape = {"width": size["width"], "height": size["height"], "duration_s": size["seconds"]}
    clean = render_clip(kind, tmp / f"{kind}.mkv", **shape)
    source = (
        render_clip(kind, tmp / f"{kind}_noisy.mkv", noisy=True, **shape)
        if kind == "low_light"
        else clean
    )
    base = tmp / f"{kind}_base.mp4"
    started = time.monotonic()
    args: list[str | Path] = ["-i", source, "-map", "0:v:0", "-c:v", "libx264"]
    run_ffmpeg([*args, "-preset", BASELINE_PRESET, "-b:v", f"{BASELINE_KBPS}k", base])
    base_s = time.monotonic() - started
    base_kbps = video_kbps(base, size["seconds"])
    base_vmaf = measure_vmaf(base, clean).mean
    # Equal quality: the encoder aims TARGET_MARGIN above its target by itself.
    target = round(max(DEFAULT_TARGET_VMAF, base_vmaf), 2)
    report = encode_replay(source, tmp / f"{kind}_ours", target_vmaf=target, kind="mp4")
    ours = measure_vmaf(report.output, clean)
    return {
        "clip": kind,
        "baseline_kbps": round(base_kbps),
        "baseline_vmaf": round(base_vmaf, 2),
        "baseline_encode_s": round(base_s, 1),
        "target_vmaf": target,
        "ours_kbps": round(report.bitrate_kbps),
        "ours_vmaf": round(ours.mean, 2),
        "ours_vmaf_min": round(ours.min, 2),
        "ours_encode_s": report.encode_time_s,
        "scenes": [
            {
                "s": [sc.start_s, sc.end_s],
                "crf": sc.crf,
                "noise": sc.noise_sigma,
                "denoise": sc.denoise,
            }
            for sc in report.scenes
        ],
        "saving_pct": round(100 * (1 - report.bitrate_kbps / base_kbps), 1),
        "equal_or_better": ours.mean >= base_vmaf,
    }


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None
