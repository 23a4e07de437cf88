"""Joining the per-scene encodes into the replay: HLS (VOD) or one MP4, with the source's audio."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from livecart.video.ffmpeg import run_ffmpeg

PLAYLIST_NAME = "index.m3u8"
MP4_NAME = "replay.mp4"
AUDIO_KBPS = 128


def package(
    chunks: Sequence[Path],
    source: Path,
    out_dir: Path,
    *,
    kind: Literal["hls", "mp4"],
    duration_s: float,
    has_audio: bool,
    segment_s: float,
) -> Path:
    """Concatenate the scene chunks (each starts on an IDR frame) without re-encoding them, add
    the source's first audio track cut to the video's length, and write the replay. Returns the
    playlist or file path."""
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
    else:
        output = out_dir / PLAYLIST_NAME
        for old in out_dir.glob("seg_*.ts"):
            old.unlink()
        args += ["-f", "hls", "-hls_time", f"{segment_s:g}", "-hls_playlist_type", "vod"]
        args += ["-hls_flags", "independent_segments"]
        args += ["-hls_segment_filename", out_dir / "seg_%05d.ts", output]
    run_ffmpeg(args)
    return output
