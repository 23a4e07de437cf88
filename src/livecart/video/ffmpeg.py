"""The ffmpeg binary and a runner that reports progress.

The binary is imageio-ffmpeg's static build: it has libvmaf, which Debian's ffmpeg does not, and
the same version everywhere the package installs, so scores and encodes are comparable.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import IO

from livecart.errors import AppError

Progress = Callable[[float], None]


class VideoError(AppError):
    """ffmpeg could not do what was asked; `data` holds the tail of its log."""

    def __init__(self, code: str, message: str, *, log: str = "") -> None:
        super().__init__(code, message, status=422, data={"log": log[-2000:]})


@cache
def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def run_ffmpeg(
    args: Sequence[str | Path],
    *,
    duration_s: float = 0.0,
    progress: Progress | None = None,
    stdout: bool = False,
) -> tuple[bytes, str]:
    """Run ffmpeg with `args`; return (stdout bytes if asked, stderr log).

    With `progress`, calls progress(fraction of duration_s written) as ffmpeg reports its output
    time; without `duration_s`, of the input's stated duration. Raises VideoError on a non-zero
    exit.
    """
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y"]
    if progress is not None:
        cmd += ["-progress", "pipe:2", "-stats_period", "0.5"]
    cmd += [str(a) for a in args]
    with tempfile.TemporaryFile() as err_file:
        if progress is None:
            done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=err_file, check=False)  # noqa: S603
            out, code = done.stdout, done.returncode
        else:
            out, code = _run_with_progress(cmd, duration_s, progress, err_file)
        err_file.seek(0)
        log = err_file.read().decode(errors="replace")
    if code != 0:
        raise VideoError("ffmpeg_failed", f"ffmpeg exited with {code}", log=log)
    return (out if stdout else b""), log


def _run_with_progress(
    cmd: list[str], duration_s: float, progress: Progress, err_file: IO[bytes]
) -> tuple[bytes, int]:
    # Progress lines go to stderr with the log; read it line by line and keep all of it.
    with subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as proc:  # noqa: S603
        assert proc.stderr is not None
        for raw in proc.stderr:
            err_file.write(raw)
            if duration_s <= 0 and (stated := _DURATION_RE.search(raw)):
                h, m, sec = stated.groups()
                duration_s = int(h) * 3600 + int(m) * 60 + float(sec)
            if raw.startswith(b"out_time_us=") and duration_s > 0:
                try:
                    us = int(raw.split(b"=", 1)[1])
                except ValueError:  # "N/A" before the first frame
                    continue
                progress(min(1.0, max(0.0, us / 1e6 / duration_s)))
        return b"", proc.wait()


_DURATION_RE = re.compile(rb"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)")


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float
    has_audio: bool


_VIDEO_RE = re.compile(
    r"Stream #\d+:\d+.*?: Video: .*?, (\d{2,5})x(\d{2,5})[ ,].*?([\d.]+) (?:fps|tbr)"
)


def parse_stream_info(log: str) -> VideoInfo | None:
    """Width, height and frame rate of the first video stream from ffmpeg's input banner."""
    video = _VIDEO_RE.search(log)
    if video is None:
        return None
    width, height, fps = int(video.group(1)), int(video.group(2)), float(video.group(3))
    has_audio = re.search(r"Stream #0:\d+.*?: Audio: ", log) is not None
    return VideoInfo(width, height, fps if fps > 0 else 25.0, has_audio)


def keyframe_times(path: Path) -> list[float]:
    """Presentation times (s) of the key frames of the first video stream."""
    _, log = run_ffmpeg(
        ["-skip_frame", "nokey", "-i", path, "-map", "0:v:0", "-vf", "showinfo", "-f", "null", "-"]
    )
    return [float(t) for t in re.findall(r"pts_time:([\d.]+)", log)]


def video_kbps(path: Path, duration_s: float) -> float:
    """Bit rate of the video stream alone (container overhead left out), over `duration_s`."""
    _, log = run_ffmpeg(["-i", path, "-map", "0:v:0", "-c", "copy", "-f", "null", "-"])
    found = re.findall(r"video:\s*([\d.]+)\s*(KiB|kB|MiB)", log)
    if not found or duration_s <= 0:
        return 0.0
    amount, unit = found[-1]
    kib = float(amount) * (1024 if unit == "MiB" else 1)
    return kib * 1024 * 8 / 1000 / duration_s


INPUT_SEEK_MIN_S = 1.0


def input_window(source: Path, start_s: float, duration_s: float | None) -> list[str | Path]:
    """`-i source` reading `duration_s` from `start_s`, decoded frames only from that window.

    Seeks on the input (fast) except in the first second: ffmpeg (7 to 9) decodes no video at
    all from an FLV recording when the seek point lies before its first key frame, so there the
    window is cut after decoding from the start instead.
    """
    if start_s >= INPUT_SEEK_MIN_S:
        length = ["-t", f"{duration_s:.6f}"] if duration_s is not None else []
        return ["-ss", f"{start_s:.6f}", *length, "-i", source]
    end = ["-t", f"{start_s + duration_s:.6f}"] if duration_s is not None else []
    return [*end, "-i", source, *(["-ss", f"{start_s:.6f}"] if start_s > 0 else [])]
