"""The replay's smaller rendition (窄带高清), encoded from the host's own ingest recording (not
from the live rendition) by `livecart.video.encode_replay`, with keyframes at the markers. Runs
in a worker thread of this process — after a replay is ready when `replay_encode_auto` is on,
or by `livecart replay encode SHOW` — and records its bitrate and VMAF on the replay."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from livecart.config import Settings
from livecart.db.uow import SessionFactory, UnitOfWork
from livecart.errors import AppError, Conflict, NotFound
from livecart.features.media import playlists, rules, stored
from livecart.features.media.packager import show_dir
from livecart.features.media.repository import MediaRepository
from livecart.features.media.service import ENCODED_DIR
from livecart.kit.storage import storage_for
from livecart.video.encode import DEFAULT_TARGET_VMAF, EncodeReport, encode_replay
from livecart.video.ffmpeg import parse_stream_info, run_ffmpeg

log = logging.getLogger(__name__)
PROGRESS_SAVE_EVERY_SECS = 2.0
INGEST_NAME = re.compile(r"^ingest-r(\d{3})\.mkv$")


async def _set(factory: SessionFactory, show_id: int, **values: object) -> None:
    async with UnitOfWork(factory) as uow:
        replay = await MediaRepository(uow.session).replay(show_id)
        if replay is not None:
            for name, value in values.items():
                setattr(replay, name, value)


def live_run_lengths(folder: Path) -> dict[int, float]:
    """Each run's length (s) in the live replay: the sum of its complete segments."""
    return {run[0].run: sum(s.duration for s in run) for run in playlists.runs(folder) if run}


def _run_of(path: Path) -> int | None:
    match = INGEST_NAME.match(path.name)
    return int(match.group(1)) if match else None


_START_RE = re.compile(r"Duration: .*?, start: (-?[\d.]+)")
_PTS_RE = re.compile(r"pts_time:(-?[\d.]+)")
_FRAMES_RE = re.compile(r"frame=\s*(\d+)")


def _video_span(source: Path) -> tuple[float, float, float]:
    """(the recording's start, its first picture's time, how long its pictures last), in its
    own timestamps. The length is frames / frame rate, as the encoder counts it."""
    args: list[str | Path] = ["-copyts", "-i", source, "-map", "0:v:0", "-frames:v", "1"]
    _, log = run_ffmpeg([*args, "-vf", "showinfo", "-f", "null", "-"])
    start, picture = _START_RE.search(log), _PTS_RE.search(log)
    _, counted = run_ffmpeg(["-i", source, "-map", "0:v:0", "-c", "copy", "-f", "null", "-"])
    frames = _FRAMES_RE.findall(counted)
    info = parse_stream_info(counted)
    if start is None or picture is None or not frames or info is None:
        raise Conflict("no_recording", "A recording of the show has no picture.")
    return float(start.group(1)), float(picture.group(1)), int(frames[-1]) / info.fps


def _joined(
    sources: list[Path], folder: Path, lengths: dict[int, float]
) -> tuple[Path, list[list[int]]]:
    """One recording per run of the show, joined (stream copy) into one on the live replay's
    timeline: each run from its first picture to the length it has in the live replay, and a
    run with no live segment left out. Returns the joined file and, per run, where it lies in
    both renditions (rules.encoded_ms), so markers, chapters and seeks hold for either.
    Without the live playlists (no lengths), the recordings are joined whole."""
    if not lengths:
        if len(sources) == 1:
            return sources[0], []
        entries = [f"file '{source.resolve()}'\n" for source in sources]
        shifts: list[list[int]] = []
    else:
        entries, shifts = [], []
        live_at = encoded_at = 0.0
        for source in sources:
            run = _run_of(source)
            length = lengths.get(run, 0.0) if run is not None else 0.0
            if length <= 0:
                continue
            start, picture, pictures = _video_span(source)
            # Live, the run's first picture is held from the run's t = 0 until the pictures
            # catch up (the packager's clock starts before the first frame it can decode and
            # the recording's copy starts at its first key frame): measured with the clock
            # burnt into the frames, the live run is this much longer than the recording's
            # pictures, all of it at its head (1.7-1.8 s in the tests).
            del start
            lead = max(0.0, length - pictures)
            span = min(pictures, length - lead)
            shifts.append([round(x * 1000) for x in (live_at, encoded_at, lead, span)])
            live_at += length
            if span > 0:
                entries.append(
                    f"file '{source.resolve()}'\ninpoint {picture:.6f}\n"
                    f"outpoint {picture + span:.6f}\nduration {span:.6f}\n"
                )
                encoded_at += span
    if not entries:
        raise Conflict("no_recording", "No recording of the show matches its replay.")
    listing = folder / "ingest-all.txt"
    listing.write_text("".join(entries))
    joined = folder / "ingest-all.mkv"
    run_ffmpeg(["-f", "concat", "-safe", "0", "-i", listing, "-c", "copy", joined])
    return joined, shifts


async def encode_show_replay(
    factory: SessionFactory,
    settings: Settings,
    show_id: int,
    *,
    target_vmaf: float = DEFAULT_TARGET_VMAF,
    progress: Callable[[float], None] | None = None,
) -> EncodeReport:
    async with UnitOfWork(factory) as uow:
        replay = await MediaRepository(uow.session).replay(show_id)
        if replay is None:
            raise NotFound("replay", show_id=show_id)
        if replay.status != "ready":
            raise Conflict("replay_not_ready", "The replay is not ready yet.", show_id=show_id)
        if replay.encode_status == "encoding":
            raise Conflict("encode_running", "This replay is being encoded.", show_id=show_id)
        sources = [settings.data_dir / p for p in replay.ingest_paths]
        sources = [p for p in sources if p.exists() and p.stat().st_size > 0]
        if not sources:
            raise Conflict("no_recording", "The show's ingest recording is missing.")
        starts_ms = [m.start_ms for m in await MediaRepository(uow.session).markers(show_id)]
        replay.encode_status, replay.encode_progress = "encoding", 0.0
    folder = show_dir(settings, show_id)
    done = 0.0

    def on_progress(fraction: float) -> None:  # called from the worker thread
        nonlocal done
        done = fraction
        if progress is not None:
            progress(fraction)

    async def save_progress() -> None:
        while True:
            await asyncio.sleep(PROGRESS_SAVE_EVERY_SECS)
            await _set(factory, show_id, encode_progress=round(done, 3))

    saver = asyncio.create_task(save_progress())
    try:
        lengths = await asyncio.to_thread(live_run_lengths, folder)
        source, shifts = await asyncio.to_thread(_joined, sources, folder, lengths)
        markers_s = sorted({rules.encoded_ms(ms, shifts) / 1000 for ms in starts_ms})
        report = await asyncio.to_thread(
            encode_replay,
            source,
            folder / ENCODED_DIR,
            markers_s=markers_s,
            target_vmaf=target_vmaf,
            progress=on_progress,
        )
    except BaseException:
        saver.cancel()
        await _set(factory, show_id, encode_status="failed")
        raise
    saver.cancel()
    encoded_key = None
    if settings.storage == "s3":
        try:
            encoded_key = await asyncio.to_thread(
                stored.upload_hls,
                storage_for(settings),
                report.output,
                stored.replay_prefix(show_id, ENCODED_DIR),
            )
        except Exception:
            log.exception("show %d: the encoded replay could not be stored", show_id)
    await _set(
        factory,
        show_id,
        encoded_key=encoded_key,
        encode_status="ready",
        encode_progress=1.0,
        encoded_path=str(report.output.relative_to(settings.data_dir)),
        encoded_timeline=shifts or None,
        bitrate_kbps=round(report.bitrate_kbps),
        vmaf=round(report.vmaf_mean, 2),
    )
    return report


async def encode_in_background(factory: SessionFactory, settings: Settings, show_id: int) -> None:
    try:
        report = await encode_show_replay(factory, settings, show_id)
    except AppError as exc:
        log.warning("replay of show %d not encoded: %s", show_id, exc.message)
    except Exception:
        log.exception("encoding the replay of show %d failed", show_id)
    else:
        log.info(
            "show %d: replay encoded at %.0f kbit/s, VMAF %.2f in %.0f s",
            show_id,
            report.bitrate_kbps,
            report.vmaf_mean,
            report.encode_time_s,
        )


@dataclass(frozen=True)
class EncodeState:
    encode_status: str
    encode_progress: float
    bitrate_kbps: int | None
    vmaf: float | None


async def replay_encode_state(settings: Settings, show_id: int) -> EncodeState | None:
    """The encode's status, progress and figures as the replay row has them (None: no replay)."""
    from livecart.db.engine import make_engine, make_session_factory

    engine = make_engine(settings.resolved_database_url)
    try:
        async with make_session_factory(engine)() as session:
            replay = await MediaRepository(session).replay(show_id)
            if replay is None:
                return None
            return EncodeState(
                replay.encode_status, replay.encode_progress, replay.bitrate_kbps, replay.vmaf
            )
    finally:
        await engine.dispose()
