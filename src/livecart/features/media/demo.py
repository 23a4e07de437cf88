"""`livecart demo-stream`: a synthetic show (test pattern, a tone, the time) for newcomers."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from livecart.config import Settings
from livecart.db.engine import make_engine, make_session_factory
from livecart.db.uow import UnitOfWork
from livecart.errors import NotFound
from livecart.features.accounts.repository import AccountsRepository
from livecart.features.shows import service as shows_service
from livecart.features.shows.models import Show
from livecart.features.shows.repository import ShowsRepository


@dataclass(frozen=True, slots=True)
class DemoTarget:
    show_id: int
    title: str
    key: str


async def demo_target(settings: Settings, show_id: int | None) -> DemoTarget:
    """The show to stream into (the given one, else a live show, else the next scheduled one)
    with a fresh stream key: keys are kept only as hashes, so the demo makes itself a new one,
    as its host would by rotating it."""
    engine = make_engine(settings.resolved_database_url)
    try:
        async with UnitOfWork(make_session_factory(engine)) as uow:
            if show_id is None:
                show = await uow.session.scalar(
                    select(Show)
                    .where(Show.state.in_(("live", "scheduled")))
                    .order_by(Show.state != "live", Show.planned_start)
                    .limit(1)
                )
            else:
                show = await uow.session.get(Show, show_id)
            if show is None:
                raise NotFound("show", show_id=show_id)
            host = await AccountsRepository(uow.session).user(show.host_id)
            ctx = shows_service.ShowsContext(ShowsRepository(uow.session))
            show, key = await shows_service.rotate_stream_key(ctx, host, show.id)
            return DemoTarget(show.id, show.title, key)
    finally:
        await engine.dispose()


def demo_command(url: str, *, seconds: float) -> list[str]:
    """A 9:16 test picture with the time of day and a tone, pushed in real time."""
    clock = "%{localtime\\:%H\\\\\\:%M\\\\\\:%S}"
    text = (
        f"drawtext=text='{clock}':fontsize=44:fontcolor=white:box=1:boxcolor=black@0.5:"
        "x=(w-tw)/2:y=90"
    )
    label = (
        "drawtext=text='livecart demo':fontsize=28:fontcolor=white:box=1:boxcolor=black@0.5:"
        "x=(w-tw)/2:y=h-140"
    )
    limit = ["-t", str(seconds)] if seconds > 0 else []
    return [
        "ffmpeg",
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-re",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=360x640:rate=25",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=330:beep_factor=4:sample_rate=44100",
        *limit,
        "-vf",
        f"{text},{label}",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-tune",
        "zerolatency",
        "-pix_fmt",
        "yuv420p",
        "-g",
        "50",
        "-b:v",
        "800k",
        "-c:a",
        "aac",
        "-b:a",
        "96k",
        "-f",
        "flv",
        url,
    ]


async def show_state(settings: Settings, show_id: int) -> str | None:
    engine = make_engine(settings.resolved_database_url)
    try:
        async with make_session_factory(engine)() as session:
            return await session.scalar(select(Show.state).where(Show.id == show_id))
    finally:
        await engine.dispose()


def redact(line: str, key: str) -> str:
    """ffmpeg names the URL it writes to; the stream key in it is a secret."""
    return line.replace(key, "[stream key]") if key else line
