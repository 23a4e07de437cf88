"""The packager: one ffmpeg per published run, reading the show's stream back from nginx-rtmp.

It makes the live rendition (x264 veryfast, zerolatency, a keyframe every second, AAC) cut into
1-second HLS segments stamped with their program date-time, and records the ingest as it came
(`-c copy` to Matroska) for the replay encoder. livecart starts it when it accepts a publish and
stops it when the show ends; nginx drops it when the publisher leaves (idle_streams off), so it
finishes its last segment and exits by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
from dataclasses import dataclass, field
from pathlib import Path

from livecart.config import Settings
from livecart.features.media import rules
from livecart.features.media.nginx import APP, stream_name

log = logging.getLogger("livecart.media")

# nginx knows the stream only once the publish callback has returned; until then reading it fails
# at once with "No such stream". Retry for this long.
CONNECT_WINDOW_SECS = 15.0
RETRY_SECS = 0.25
STOP_TIMEOUT_SECS = 2.0
MAX_HEIGHT = 720


def show_dir(settings: Settings, show_id: int) -> Path:
    return settings.live_dir / str(show_id)


def ingest_name(run: int) -> str:
    return f"ingest-r{run:03d}.mkv"


def packager_command(settings: Settings, show_id: int, run: int, out: Path) -> list[str]:
    source = f"rtmp://127.0.0.1:{settings.rtmp_port}/{APP}/{stream_name(show_id)}"
    return [
        "ffmpeg",
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "warning",
        # Start fast: probing a second of input is enough for an RTMP stream's two tracks.
        "-fflags",
        "nobuffer",
        "-analyzeduration",
        "1000000",
        "-probesize",
        "500000",
        # A read blocked this long means the stream is broken: end the run rather than hang.
        "-rw_timeout",
        "10000000",
        "-i",
        source,
        # The live rendition.
        "-map",
        "0:v:0",
        "-map",
        "0:a:0?",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-tune",
        "zerolatency",
        "-pix_fmt",
        "yuv420p",
        "-vf",
        f"scale=-2:'min({MAX_HEIGHT},ih)'",
        "-crf",
        "23",
        "-maxrate",
        "2500k",
        "-bufsize",
        "2500k",
        "-force_key_frames",
        "expr:gte(t,n_forced*1)",
        "-sc_threshold",
        "0",
        # Audio from the very first frame (silence until the encoder's sound arrives): a player
        # sizes its buffers from the first segment, and a segment without sound breaks it.
        "-af",
        "aresample=async=1:first_pts=0",
        "-c:a",
        "aac",
        "-b:a",
        "128k",
        "-f",
        "hls",
        "-hls_time",
        "1",
        "-hls_list_size",
        "0",
        "-hls_playlist_type",
        "event",
        "-hls_flags",
        "program_date_time+independent_segments+temp_file",
        "-hls_segment_filename",
        str(out / rules.segment_pattern(run)),
        str(out / rules.run_file_name(run)),
        # The ingest as it came, for the replay encoder; flushed often so a crash loses little.
        "-map",
        "0:v?",
        "-map",
        "0:a?",
        "-c",
        "copy",
        "-flush_packets",
        "1",
        "-f",
        "matroska",
        str(out / ingest_name(run)),
    ]


@dataclass(eq=False)
class PackagerRun:
    show_id: int
    run: int
    out: Path
    proc: asyncio.subprocess.Process | None = None
    stopping: bool = False
    task: asyncio.Task[None] | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def playlist(self) -> Path:
        return self.out / rules.run_file_name(self.run)


class Packagers:
    """The packager runs of this process, by show."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.runs: dict[int, PackagerRun] = {}

    def start(self, show_id: int, run: int) -> PackagerRun:
        current = self.runs.get(show_id)
        if current is not None and not current.done.is_set():
            current.stopping = True  # a new publish replaces it (the old stream is gone)
        out = show_dir(self.settings, show_id)
        if run == 1 and out.is_dir():
            # A show's first run: anything here is from a deleted show whose id came back.
            shutil.rmtree(out)
        out.mkdir(parents=True, exist_ok=True)
        packager = PackagerRun(show_id, run, out)
        packager.task = asyncio.create_task(self._supervise(packager), name=f"packager-{show_id}")
        self.runs[show_id] = packager
        return packager

    async def _supervise(self, packager: PackagerRun) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CONNECT_WINDOW_SECS
        log_path = packager.out / f"packager-r{packager.run:03d}.log"
        try:
            while not packager.stopping:
                with log_path.open("ab") as log_file:
                    packager.proc = await asyncio.create_subprocess_exec(
                        *packager_command(
                            self.settings, packager.show_id, packager.run, packager.out
                        ),
                        stdin=asyncio.subprocess.DEVNULL,
                        stdout=asyncio.subprocess.DEVNULL,
                        stderr=log_file,
                        start_new_session=True,
                    )
                code = await packager.proc.wait()
                if packager.playlist.exists() or packager.stopping:
                    log.info(
                        "packager of show %d run %d exited (%d)",
                        packager.show_id,
                        packager.run,
                        code,
                    )
                    return
                if loop.time() > deadline:
                    log.warning(
                        "packager of show %d could not read the stream (see %s)",
                        packager.show_id,
                        log_path,
                    )
                    return
                await asyncio.sleep(RETRY_SECS)
        finally:
            packager.done.set()

    async def stop(self, show_id: int) -> None:
        """Stop the show's packager (it finishes its current segment) and wait for it."""
        packager = self.runs.pop(show_id, None)
        if packager is None:
            return
        started = asyncio.get_running_loop().time()
        packager.stopping = True
        proc = packager.proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(packager.done.wait(), STOP_TIMEOUT_SECS)
        except TimeoutError:
            if proc is not None and proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
            await packager.done.wait()
            log.warning(
                "packager of show %d ignored SIGTERM; killed after %.1f s",
                show_id,
                asyncio.get_running_loop().time() - started,
            )

    def running(self, show_id: int) -> bool:
        packager = self.runs.get(show_id)
        return packager is not None and not packager.done.is_set()

    async def close(self) -> None:
        for show_id in list(self.runs):
            await self.stop(show_id)
