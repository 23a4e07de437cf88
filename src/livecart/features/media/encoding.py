"""The replay's smaller rendition (窄带高清), encoded from the host's own ingest recording (not
from the live rendition) by `livecart.video.encode_replay`, with keyframes at the markers. Runs
in a worker thread of this process — after a replay is ready when `replay_encode_auto` is on,
or by `livecart replay encode SHOW` — and records its bitrate and VMAF on the replay."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from livecart.config import Settings
from livecart.db.uow import SessionFactory, UnitOfWork
from livecart.errors import AppError, Conflict, NotFound
from livecart.features.media.packager import show_dir
from livecart.features.media.repository import MediaRepository
from livecart.video.encode import DEFAULT_TARGET_VMAF, EncodeReport, encode_replay
from livecart.video.ffmpeg import run_ffmpeg

log = logging.getLogger(__name__)
PROGRESS_SAVE_EVERY_SECS = 2.0


async def _set(factory: SessionFactory, show_id: int, **values: object) -> None:
    async with UnitOfWork(factory) as uow:
        replay = await MediaRepository(uow.session).replay(show_id)
        if replay is not None:
            for name, value in values.items():
                setattr(replay, name, value)


def _joined(sources: list[Path], folder: Path) -> Path:
    """One recording per run of the show; several are joined (stream copy) into one."""
    if len(sources) == 1:
        return sources[0]
    listing = folder / "ingest-all.txt"
    listing.write_text("".join(f"file '{p.resolve()}'\n" for p in sources))
    joined = folder / "ingest-all.mkv"
    run_ffmpeg(["-f", "concat", "-safe", "0", "-i", listing, "-c", "copy", joined])
    return joined


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
        markers = await MediaRepository(uow.session).markers(show_id)
        markers_s = sorted({m.start_ms / 1000 for m in markers})
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
        source = await asyncio.to_thread(_joined, sources, folder)
        report = await asyncio.to_thread(
            encode_replay,
            source,
            folder / "encoded",
            markers_s=markers_s,
            target_vmaf=target_vmaf,
            progress=on_progress,
        )
    except BaseException:
        saver.cancel()
        await _set(factory, show_id, encode_status="failed")
        raise
    saver.cancel()
    await _set(
        factory,
        show_id,
        encode_status="ready",
        encode_progress=1.0,
        encoded_path=str(report.output.relative_to(settings.data_dir)),
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
