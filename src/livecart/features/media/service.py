"""Media: who may publish, the show's lifecycle as its stream comes and goes, the replay and its
markers. Services never commit."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Literal

from livecart.errors import AppError, Conflict, NotFound
from livecart.features.accounts.models import User
from livecart.features.catalog.repository import CatalogRepository
from livecart.features.media import playlists, rules
from livecart.features.media.models import Replay, ReplayMarker
from livecart.features.media.repository import MediaRepository
from livecart.features.media.schemas import MarkerIn, MarkerOut, MarkerPatch, ReplayOut
from livecart.features.rooms import service as rooms_service
from livecart.features.rooms.cards import product_card
from livecart.features.rooms.service import Member, RoomContext, RoomRole
from livecart.features.shows import service as shows_service
from livecart.features.shows.models import Show
from livecart.features.shows.rules import ShowState
from livecart.kit.clock import utcnow
from livecart.kit.ids import hash_secret
from livecart.kit.storage import current_storage

log = logging.getLogger("livecart.media")


class MediaContext(RoomContext):
    """The room's repositories (going live and ending go through the room) and the media ones."""

    @property
    def media(self) -> MediaRepository:
        return MediaRepository(self.uow.session)


def live_path(show_id: int) -> str:
    """The show's folder, relative to the data dir."""
    return f"live/{show_id}"


async def _as_host(ctx: MediaContext, show: Show) -> Member:
    """The show's own host, for the transitions the stream makes on its behalf."""
    host = await ctx.accounts.user(show.host_id)
    if host is None:
        raise NotFound("user", user_id=show.host_id)
    return Member(show, host, RoomRole.HOST)


# --- ingest --------------------------------------------------------------------------------


async def accept_publish(
    ctx: MediaContext, *, key: str, publisher: str, node: str
) -> tuple[Show, int]:
    """A publisher presents a stream key. The show must be scheduled or live and have no other
    publisher; a scheduled show goes live exactly as from the console. Returns the show and the
    number of this run (1 for the first publish, more when the stream comes back)."""
    show = await ctx.shows.show_by_stream_key_hash(hash_secret(key))
    if show is None:  # a wrong key, or one that was rotated away
        raise AppError("stream_key_invalid", "This stream key is not valid.", status=403)
    if show.state not in (ShowState.SCHEDULED.value, ShowState.LIVE.value):
        raise Conflict("show_over", "This show is over; it cannot go live again.", show_id=show.id)
    replay = await ctx.media.ensure_replay(show.id)
    if replay.status != "recording":
        raise Conflict("show_over", "This show's recording is closed.", show_id=show.id)
    if not await ctx.media.claim_publisher(show.id, publisher, node=node):
        raise Conflict(
            "already_publishing", "Another encoder is already streaming this show.", show_id=show.id
        )
    if show.state == ShowState.SCHEDULED.value:
        await rooms_service.control_show(ctx, await _as_host(ctx, show), "go_live")
    await ctx.uow.session.refresh(replay)
    recording = f"{live_path(show.id)}/ingest-r{replay.runs:03d}.mkv"
    replay.ingest_paths = [*replay.ingest_paths, recording]
    return show, replay.runs


async def stream_gone(ctx: MediaContext, *, publisher: str, node: str) -> Replay | None:
    """The publisher left: the show's grace period starts (see end_gone_streams)."""
    return await ctx.media.release_publisher(publisher, node=node, now=utcnow())


async def end_gone_streams(ctx: MediaContext, *, node: str, grace_secs: float) -> list[int]:
    """End the live shows streamed through `node` whose stream has been gone longer than the
    grace period."""
    ended = []
    for replay, show in await ctx.media.gone_streams(
        node=node, before=utcnow() - timedelta(seconds=grace_secs)
    ):
        replay.stream_gone_at = None
        await rooms_service.control_show(ctx, await _as_host(ctx, show), "end")
        ended.append(show.id)
    return ended


# --- the replay ----------------------------------------------------------------------------


async def finish_replay(ctx: MediaContext, replay: Replay, folder: Path) -> Replay:
    """Close the show's video: write its VOD playlist and place its markers. The packager must
    have stopped. What reached us is the replay, however the stream ended."""
    timeline = playlists.write_replay(folder)
    replay.publisher = None
    if timeline.duration_ms <= 0:
        replay.status = "failed"
        log.warning("show %d ended without any video", replay.show_id)
        return replay
    replay.status = "ready"
    replay.ready_at = utcnow()
    replay.playlist_path = f"{live_path(replay.show_id)}/{playlists.REPLAY_FILE}"
    replay.started_at = timeline.started_at
    replay.duration_ms = timeline.duration_ms
    if not await ctx.media.markers(replay.show_id):
        for draft in await auto_markers(ctx, replay.show_id, timeline):
            ctx.uow.session.add(
                ReplayMarker(
                    show_id=replay.show_id,
                    kind=draft.kind,
                    source="auto",
                    product_id=draft.product_id,
                    start_ms=draft.start_ms,
                    end_ms=draft.end_ms,
                    label=draft.label,
                    score=draft.score,
                )
            )
    return replay


async def auto_markers(
    ctx: MediaContext, show_id: int, timeline: rules.Timeline
) -> list[rules.MarkerDraft]:
    """Explanation segments first, then the busiest moments of chat and drops."""
    explanations = await ctx.rooms.explanations(show_id)
    products = await ctx.media.products({e.product_id for e in explanations})
    spans = [rules.ExplainedSpan(e.product_id, e.started_at, e.ended_at) for e in explanations]
    titles = {pid: p.title for pid, p in products.items()}
    markers = rules.product_markers(spans, timeline, titles)
    highlights = rules.rank_highlights(
        chat=await ctx.media.chat_times(show_id),
        drops=await ctx.media.drop_times(show_id),
        timeline=timeline,
        taken=markers,
    )
    return markers + highlights


ENCODED_DIR = "encoded"


def rendition(replay: Replay) -> Literal["live", "encoded"]:
    """Which rendition viewers play: the smaller one once it is encoded, the live recording
    until then (and while it is being encoded again)."""
    if replay.status == "ready" and replay.encode_status == "ready" and replay.encoded_path:
        return "encoded"
    return "live"


def stored_key(replay: Replay) -> str | None:
    """The storage key of the playing rendition's playlist, once it is in the bucket."""
    if rendition(replay) == "encoded":
        return replay.encoded_key
    return replay.playlist_key if replay.status == "ready" else None


def playlist_url(replay: Replay, *, presign: bool = False) -> str:
    """From the bucket once the rendition is stored there (storage=s3): its public address, or
    with `presign` this app's copy of the playlist with signed segment URLs. Else from here."""
    playing = rendition(replay)
    key = stored_key(replay)
    if key is not None:
        return f"/live/{replay.show_id}/stored/{playing}.m3u8" if presign else stored_url(key)
    if playing == "encoded":
        return f"/live/{replay.show_id}/{ENCODED_DIR}/index.m3u8"
    return f"/live/{replay.show_id}/index.m3u8"


def stored_url(key: str) -> str:
    url = current_storage().url(key)
    assert url is not None
    return url


def played_timeline(replay: Replay) -> list[list[int]]:
    """How the live replay's times map onto the rendition that plays (rules.encoded_ms);
    empty (identity) while the live recording plays."""
    if rendition(replay) == "encoded" and replay.encoded_timeline:
        return [list(map(int, run)) for run in replay.encoded_timeline]
    return []


async def shifts_of(ctx: MediaContext, show_id: int) -> list[list[int]]:
    replay = await ctx.media.replay(show_id)
    return played_timeline(replay) if replay is not None else []


async def replay_view(ctx: MediaContext, show_id: int, *, presign: bool = False) -> ReplayOut:
    show = await ctx.shows.show(show_id)
    if show is None:
        raise NotFound("show", show_id=show_id)
    replay = await ctx.media.replay(show.id)
    if replay is None:
        raise NotFound("replay", show_id=show_id)
    markers = await ctx.media.markers(show.id) if replay.status == "ready" else []
    shifts = played_timeline(replay)
    return ReplayOut(
        show_id=show.id,
        status=replay.status,
        playlist_url=playlist_url(replay, presign=presign) if replay.status != "failed" else None,
        rendition=rendition(replay),
        chapters_url=f"/api/v1/shows/{show.id}/replay/chapters.vtt",
        started_at=replay.started_at,
        duration_ms=(
            rules.encoded_ms(replay.duration_ms, shifts) if replay.duration_ms is not None else None
        ),
        markers=await markers_out(ctx, markers, shifts),
        encode_status=replay.encode_status,
        encode_progress=replay.encode_progress,
        bitrate_kbps=replay.bitrate_kbps,
        vmaf=replay.vmaf,
    )


async def markers_out(
    ctx: MediaContext, markers: list[ReplayMarker], shifts: list[list[int]] | None = None
) -> list[MarkerOut]:
    """Markers as shown, in the time of the rendition that plays (`shifts`, see
    played_timeline); they are stored in the live replay's time."""
    shifts = shifts or []
    ids = [m.product_id for m in markers if m.product_id is not None]
    products = {p.id: p for p in await CatalogRepository(ctx.uow.session).products_by_ids(ids)}
    out = []
    for m in markers:
        product = products.get(m.product_id) if m.product_id is not None else None
        out.append(
            MarkerOut(
                id=m.id,
                kind=m.kind,
                source=m.source,
                start_ms=rules.encoded_ms(m.start_ms, shifts),
                end_ms=rules.encoded_ms(m.end_ms, shifts) if m.end_ms is not None else None,
                label=m.label,
                score=m.score,
                product=product_card(product) if product is not None else None,
            )
        )
    return out


async def chapters(ctx: MediaContext, show_id: int) -> str:
    view = await replay_view(ctx, show_id)
    end = view.duration_ms or 0
    entries = [
        (m.start_ms, m.end_ms if m.end_ms is not None else end, m.label)
        for m in view.markers
        if m.kind == "product"
    ]
    return rules.chapters_vtt(entries)


# --- the host edits markers ----------------------------------------------------------------


async def _hosted_replay(ctx: MediaContext, actor: User | None, show_id: int) -> Replay:
    show = await shows_service.hosted_show(shows_service.ShowsContext(ctx.shows), actor, show_id)
    replay = await ctx.media.replay(show.id)
    if replay is None or replay.status != "ready":
        raise Conflict("replay_not_ready", "The replay is not ready yet.", show_id=show_id)
    return replay


def _to_live(replay: Replay, start_ms: int, end_ms: int | None) -> dict[str, int | None]:
    """The host sets times on the rendition that plays; they are kept in the live replay's."""
    shifts = played_timeline(replay)
    return {
        "start_ms": rules.live_ms(start_ms, shifts),
        "end_ms": rules.live_ms(end_ms, shifts) if end_ms is not None else None,
    }


def _within(replay: Replay, start_ms: int, end_ms: int | None) -> None:
    length = replay.duration_ms or 0
    if start_ms > length or (end_ms is not None and end_ms > length):
        raise AppError(
            "marker_out_of_range",
            "The marker lies beyond the end of the video.",
            status=422,
            data={"duration_ms": length},
        )


async def add_marker(
    ctx: MediaContext, actor: User | None, show_id: int, data: MarkerIn
) -> ReplayMarker:
    replay = await _hosted_replay(ctx, actor, show_id)
    data = data.model_copy(update=_to_live(replay, data.start_ms, data.end_ms))
    _within(replay, data.start_ms, data.end_ms)
    if data.product_id is not None:
        await rooms_service.lineup_product(ctx, await _show(ctx, show_id), data.product_id)
    marker = ReplayMarker(
        show_id=replay.show_id,
        kind=data.kind,
        source="host",
        product_id=data.product_id,
        start_ms=data.start_ms,
        end_ms=data.end_ms,
        label=data.label,
        score=0.0,
    )
    ctx.uow.session.add(marker)
    await ctx.uow.session.flush()
    return marker


async def _show(ctx: MediaContext, show_id: int) -> Show:
    show = await ctx.shows.show(show_id)
    if show is None:
        raise NotFound("show", show_id=show_id)
    return show


async def update_marker(
    ctx: MediaContext, actor: User | None, show_id: int, marker_id: int, data: MarkerPatch
) -> ReplayMarker:
    replay = await _hosted_replay(ctx, actor, show_id)
    marker = await ctx.media.marker(replay.show_id, marker_id)
    if marker is None:
        raise NotFound("marker", marker_id=marker_id)
    shifts = played_timeline(replay)
    start = marker.start_ms if data.start_ms is None else rules.live_ms(data.start_ms, shifts)
    if "end_ms" in data.model_fields_set:
        end = rules.live_ms(data.end_ms, shifts) if data.end_ms is not None else None
    else:
        end = marker.end_ms
    if end is not None and end < start:
        raise AppError(
            "marker_ends_before_start", "A marker cannot end before it starts.", status=422
        )
    _within(replay, start, end)
    marker.start_ms, marker.end_ms = start, end
    if data.label is not None:
        marker.label = data.label
    marker.source = "host"
    await ctx.uow.session.flush()
    return marker


async def delete_marker(
    ctx: MediaContext, actor: User | None, show_id: int, marker_id: int
) -> None:
    replay = await _hosted_replay(ctx, actor, show_id)
    marker = await ctx.media.marker(replay.show_id, marker_id)
    if marker is None:
        raise NotFound("marker", marker_id=marker_id)
    await ctx.uow.session.delete(marker)
