"""Joining the per-scene encodes into the replay: HLS (VOD) or one MP4, with the source's audio."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from livecart.video.ffmpeg import run_ffmpeg

PLAYLIST_NAME = "index.m3u8"
MP4_NAME = "replay.mp4"
SEGMENT_GLOB = "seg_*.ts"
AUDIO_KBPS = 128


def segment_cuts(duration_s: float, segment_s: float, cuts_s: Sequence[float] = ()) -> list[float]:
    """Where the HLS segments start (after t = 0): every `segment_s`, and at every time in
    `cuts_s` (the markers), so a seek to a marker loads the segment that starts there. A grid
    point closer than a second to a marker is left out (no tiny segments)."""
    extra = sorted({round(c, 3) for c in cuts_s if 0 < c < duration_s})
    grid = [
        round(k * segment_s, 3)
        for k in range(1, int(duration_s / segment_s) + 1)
        if k * segment_s < duration_s and all(abs(k * segment_s - c) >= 1.0 for c in extra)
    ]
    return sorted({*grid, *extra})


def package(
    chunks: Sequence[Path],
    source: Path,
    out_dir: Path,
    *,
    kind: Literal["hls", "mp4"],
    duration_s: float,
    has_audio: bool,
    segment_s: float,
    cuts_s: Sequence[float] = (),
) -> Path:
    """Concatenate the scene chunks (each starts on an IDR frame) without re-encoding them, add
    the source's first audio track cut to the video's length, and write the replay. Returns the
    playlist or file path. For HLS, segments start every `segment_s` and at each of `cuts_s`
    (which must be key frames in the chunks)."""
    listing = chunks[0].parent / "chunks.txt"
    listing.write_text("".join(f"file '{c.resolve()}'\n" for c in chunks))
    args: list[str | Path] = ["-f", "concat", "-safe", "0", "-i", listing]
    maps = ["-map", "0:v:0"]
    if has_audio:
        args += ["-err_detect", "ignore_err", "-i", source]
        maps += ["-map", "1:a:0?", "-c:a", "aac", "-b:a", f"{AUDIO_KBPS}k"]
    args += [*maps, "-c:v", "copy", "-t", f"{duration_s:.6f}"]
    if kind == "mp4":
        output = out_dir / MP4_NAME
        args += ["-movflags", "+faststart", output]
        run_ffmpeg(args)
        return output
    output = out_dir / PLAYLIST_NAME
    for old in out_dir.glob(SEGMENT_GLOB):
        old.unlink()
    # The segment muxer (not hls) because it cuts at given times: at the first key frame at or
    # after each one, and the encoder put key frames exactly there.
    cuts = segment_cuts(duration_s, segment_s, cuts_s)
    tmp_list = out_dir / (PLAYLIST_NAME + ".part")
    args += ["-f", "segment", "-segment_format", "mpegts", "-reset_timestamps", "0"]
    if cuts:
        args += ["-segment_times", ",".join(f"{max(0.0, c - 0.001):.3f}" for c in cuts)]
    args += ["-segment_list_type", "m3u8", "-segment_list", tmp_list]
    args += [out_dir / "seg_%05d.ts"]
    run_ffmpeg(args)
    output.write_text(vod_playlist(tmp_list.read_text()))
    tmp_list.unlink()
    return output


def vod_playlist(text: str) -> str:
    """The segment muxer's playlist, marked VOD with independent segments (each starts on a
    key frame) and version 6, like the live replay's."""
    lines = [line for line in text.splitlines() if line.strip()]
    head = ["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-PLAYLIST-TYPE:VOD"]
    head.append("#EXT-X-INDEPENDENT-SEGMENTS")
    skip = (
        "#EXTM3U",
        "#EXT-X-VERSION",
        "#EXT-X-PLAYLIST-TYPE",
        "#EXT-X-INDEPENDENT-SEGMENTS",
        "#EXT-X-ALLOW-CACHE",  # removed from HLS in version 7
    )
    body = [line for line in lines if not line.startswith(skip)]
    if "#EXT-X-ENDLIST" not in body:
        body.append("#EXT-X-ENDLIST")
    return "\n".join(head + body) + "\n"
