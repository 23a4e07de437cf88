"""The replay encoder end to end on tiny clips, checked with ffprobe and libvmaf."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from livecart.video.analysis import estimate_noise, scan_source
from livecart.video.encode import DEFAULT_TARGET_VMAF, encode_replay
from livecart.video.ffmpeg import (
    VideoError,
    keyframe_times,
    parse_stream_info,
    run_ffmpeg,
    video_kbps,
)
from livecart.video.vmaf import measure_vmaf

# The live rendition (2500 kbit/s at 1280x720) in bits per pixel, at the clips' 320x180.
BASELINE_KBPS = 2500 * (320 * 180) // (1280 * 720)


def probe_keyframes(path: Path) -> list[float]:
    """Key-frame times from the start of the stream, by ffprobe (Debian's, installed by setup);
    the imageio binary has no ffprobe, so without it the same is read with ffmpeg."""
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        times = keyframe_times(path)
    else:
        args = ["-v", "error", "-select_streams", "v:0", "-skip_frame", "nokey"]
        args += ["-show_entries", "frame=pts_time", "-of", "json", str(path)]
        out = subprocess.run(
            [ffprobe, *args],
            capture_output=True,
            check=True,
            text=True,
        ).stdout
        times = [float(f["pts_time"]) for f in json.loads(out)["frames"]]
    return [t - times[0] for t in times]


def first_frame_pts(segment: Path) -> float:
    """The stream time of a segment's first video frame (ffprobe does not reset it per file)."""
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        pytest.skip("ffprobe (Debian's ffmpeg) is needed to read segment times")
    args = ["-v", "error", "-select_streams", "v:0", "-read_intervals", "%+#1"]
    args += ["-show_entries", "frame=pts_time", "-of", "json", str(segment)]
    out = subprocess.run([ffprobe, *args], capture_output=True, check=True, text=True).stdout
    return float(json.loads(out)["frames"][0]["pts_time"])


def baseline(source: Path, out: Path) -> Path:
    args: list[str | Path] = ["-i", source, "-map", "0:v:0", "-c:v", "libx264"]
    run_ffmpeg([*args, "-preset", "veryfast", "-b:v", f"{BASELINE_KBPS}k", out])
    return out


def test_vmaf_of_identical_is_about_100_and_degraded_is_lower(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    source = clips["talking_head"]
    same = measure_vmaf(source, source)
    assert same.mean > 97
    assert same.frames == 75
    worse = tmp_path / "worse.mp4"
    run_ffmpeg(["-i", source, "-vf", "scale=80:-2", "-c:v", "libx264", "-crf", "40", worse])
    assert measure_vmaf(worse, source).mean < same.mean - 20  # scaled back up to compare


def test_noise_is_found_in_the_noisy_room_only(clips: dict[str, Path]) -> None:
    for name, noisy in [("low_light", False), ("low_light_noisy", True), ("ingest", False)]:
        info = scan_source(clips[name]).info
        sigma = estimate_noise(clips[name], at_s=1.0, info=info)
        assert (sigma > 3) is noisy, (name, sigma)


@pytest.mark.parametrize("name", ["talking_head", "low_light_noisy"])
def test_fewer_bits_than_the_live_rendition_at_its_quality(
    clips: dict[str, Path], tmp_path: Path, name: str
) -> None:
    source = clips[name]
    reference = clips["low_light"] if name == "low_light_noisy" else source
    base = baseline(source, tmp_path / "base.mp4")
    base_vmaf = measure_vmaf(base, reference).mean
    # As the benchmark does: the product's default target, or above the baseline when it is.
    target = max(DEFAULT_TARGET_VMAF, base_vmaf + 0.5)
    report = encode_replay(source, tmp_path / "ours", target_vmaf=target, kind="mp4")
    ours_vmaf = measure_vmaf(report.output, reference).mean
    assert report.bitrate_kbps < video_kbps(base, 3.0)
    # Equal quality within a point: the CRF is chosen on probes of the (denoised) source, the
    # check here is against the clean source.
    assert ours_vmaf >= base_vmaf - 1.0, (ours_vmaf, base_vmaf, report)


def test_hls_with_keyframes_at_markers_and_progress(clips: dict[str, Path], tmp_path: Path) -> None:
    seen: list[float] = []
    markers = [0.7, 1.3, 2.21]
    report = encode_replay(
        clips["ingest"], tmp_path / "hls", markers_s=markers, progress=seen.append
    )
    assert report.output.name == "index.m3u8"
    playlist = report.output.read_text()
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in playlist
    assert "#EXT-X-ENDLIST" in playlist
    keys = probe_keyframes(report.output)
    frame = 1 / 25
    for marker in markers:  # the first frame at or after each marker is a key frame
        assert any(marker - 0.001 <= k < marker + frame for k in keys), (marker, keys)
    # …and starts a segment, so a jump to a marker loads the segment that begins there.
    segments = [report.output.parent / line for line in playlist.split() if line.endswith(".ts")]
    firsts = [first_frame_pts(s) for s in segments]
    starts = [round(t - firsts[0], 3) for t in firsts]
    for marker in markers:
        assert any(marker - 0.001 <= s < marker + frame for s in starts), (marker, starts)
    assert seen[-1] == 1.0
    assert seen == sorted(seen)
    assert report.vmaf_mean > 0
    assert report.scenes[0].crf > 0
    assert report.encode_time_s > 0


def test_truncated_recording_encodes_what_decodes(clips: dict[str, Path], tmp_path: Path) -> None:
    data = clips["ingest"].read_bytes()
    cut = tmp_path / "cut.flv"
    cut.write_bytes(data[: len(data) * 6 // 10])
    report = encode_replay(cut, tmp_path / "out", kind="mp4")
    assert 0.8 < report.duration_s < 2.9
    run_ffmpeg(["-v", "error", "-xerror", "-i", report.output, "-f", "null", "-"])  # decodes
    _, log = run_ffmpeg(["-i", report.output, "-f", "null", "-"])
    info = parse_stream_info(log)
    assert info is not None
    assert info.has_audio


def test_damage_in_the_middle_is_skipped(clips: dict[str, Path], tmp_path: Path) -> None:
    data = bytearray(clips["ingest"].read_bytes())
    middle = len(data) // 2
    data[middle : middle + 3000] = bytes(i * 7919 % 256 for i in range(3000))
    damaged = tmp_path / "damaged.flv"
    damaged.write_bytes(bytes(data))
    report = encode_replay(damaged, tmp_path / "out", kind="mp4")
    assert report.duration_s > 2.0  # most of the 3 s: decoding resumed after the damage
    run_ffmpeg(["-v", "error", "-xerror", "-i", report.output, "-f", "null", "-"])


def test_nothing_decodable_is_a_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.flv"
    junk.write_bytes(b"FLV\x01\x05" + b"\x00" * 4000)
    with pytest.raises(VideoError) as caught:
        encode_replay(junk, tmp_path / "out")
    assert caught.value.code == "video_undecodable"
