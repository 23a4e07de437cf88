"""Media over HTTP: nginx-rtmp's callbacks, the HLS files, the replay and its markers."""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request, status
from fastapi.responses import FileResponse, PlainTextResponse, RedirectResponse, Response

from livecart.config import Settings
from livecart.db.deps import UowDep
from livecart.errors import AppError, NotFound
from livecart.features.accounts.deps import CurrentUser
from livecart.features.media import playlists, rules, service, stored
from livecart.features.media.nginx import hook_token, stream_name
from livecart.features.media.packager import show_dir
from livecart.features.media.schemas import MarkerIn, MarkerOut, MarkerPatch, ReplayOut
from livecart.kit.params import IdPath
from livecart.kit.schemas import ERROR_RESPONSES

log = logging.getLogger("livecart.media")

router = APIRouter(prefix="/api/v1", tags=["replays"], responses=ERROR_RESPONSES)
hooks = APIRouter(prefix="/internal/media", include_in_schema=False)
files = APIRouter(prefix="/live", include_in_schema=False)

PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
CLIENT_ID = re.compile(r"^\d{1,20}$")
MAX_KEY_CHARS = 200


def _ctx(request: Request, uow: UowDep) -> service.MediaContext:
    return service.MediaContext(uow, request.app.state.hub)


# --- nginx-rtmp callbacks --------------------------------------------------------------------
# The URL carries a secret derived from the settings' secret key (nginx.hook_token); any other
# caller gets 404. nginx sends a form: call, app, name (the stream key), addr, clientid, ...


def _check_token(request: Request, token: str) -> None:
    settings: Settings = request.app.state.settings
    if not hmac.compare_digest(token.encode(), hook_token(settings).encode()):
        raise NotFound("page")


async def _form(request: Request) -> tuple[str, str, str]:
    form = await request.form()
    name, client, addr = (str(form.get(k, "")) for k in ("name", "clientid", "addr"))
    if not CLIENT_ID.match(client) or len(name) > MAX_KEY_CHARS or len(addr) > 64:
        raise AppError("bad_hook", "Not an nginx-rtmp callback.", status=400)
    return name, client, addr


@hooks.post("/{token}/publish")
async def on_publish(token: str, request: Request, uow: UowDep) -> Response:
    """Accept a publisher whose key belongs to a show that may go live; the 302 renames the
    stream to `show-<id>`. A refusal is 403 (bad key) or 409 (show over, already publishing)."""
    _check_token(request, token)
    key, client, addr = await _form(request)
    try:
        show, run = await service.accept_publish(
            _ctx(request, uow), key=key, publisher=client, node=request.app.state.media.node_id
        )
    except AppError as exc:
        # Never the key itself: only where it came from and why it was refused.
        log.warning("refused a publish from %s (client %s): %s", addr, client, exc.code)
        raise
    node = request.app.state.media

    async def start_packager() -> None:
        node.start_packager(show.id, run)

    uow.after_commit(start_packager)
    log.info("show %d: stream run %d from %s", show.id, run, addr)
    return RedirectResponse(stream_name(show.id), status_code=status.HTTP_302_FOUND)


@hooks.post("/{token}/publish_done")
async def on_publish_done(token: str, request: Request, uow: UowDep) -> Response:
    """The publisher left; the show ends after the grace period unless it comes back."""
    _check_token(request, token)
    _, client, _ = await _form(request)
    replay = await service.stream_gone(
        _ctx(request, uow), publisher=client, node=request.app.state.media.node_id
    )
    if replay is not None:
        log.info("show %d: stream gone", replay.show_id)
    return Response(status_code=200)


# --- HLS -------------------------------------------------------------------------------------


@files.get("/{show_id}/index.m3u8")
async def show_playlist(show_id: IdPath, request: Request) -> Response:
    """The show's playlist: EVENT while it is live (every segment so far), the VOD replay with
    ENDLIST once it is over. Never cached."""
    folder = show_dir(request.app.state.settings, show_id)
    replay = folder / playlists.REPLAY_FILE
    if replay.exists():
        body = replay.read_text()
    elif folder.is_dir():
        body = playlists.show_playlist(folder, ended=False)
    else:
        raise NotFound("playlist", show_id=show_id)
    return Response(body, media_type=PLAYLIST_TYPE, headers={"Cache-Control": "no-cache, no-store"})


SegmentName = Annotated[str, Path(pattern=rules.SEGMENT_NAME.pattern, max_length=20)]
EncodedName = Annotated[str, Path(pattern=r"^seg_\d{5}\.ts$", max_length=20)]


@files.get("/{show_id}/encoded/index.m3u8")
async def encoded_playlist(show_id: IdPath, request: Request) -> Response:
    """The replay's smaller rendition (VOD); rewritten by a new encode, so not cached."""
    path = show_dir(request.app.state.settings, show_id) / service.ENCODED_DIR / "index.m3u8"
    if not path.is_file():
        raise NotFound("playlist", show_id=show_id)
    return Response(
        path.read_text(),
        media_type=PLAYLIST_TYPE,
        headers={"Cache-Control": "no-cache, no-store"},
    )


@files.get("/{show_id}/encoded/{segment}")
async def encoded_segment(show_id: IdPath, segment: EncodedName, request: Request) -> Response:
    """A segment of the smaller rendition: a new encode reuses its names, so cached briefly."""
    path = show_dir(request.app.state.settings, show_id) / service.ENCODED_DIR / segment
    if not path.is_file():
        raise NotFound("segment", show_id=show_id)
    return FileResponse(path, media_type="video/mp2t", headers={"Cache-Control": "max-age=60"})


@files.get("/{show_id}/{segment}")
async def segment_file(show_id: IdPath, segment: SegmentName, request: Request) -> Response:
    """A segment never changes once listed: cache it for good."""
    path = show_dir(request.app.state.settings, show_id) / segment
    if not path.is_file():
        raise NotFound("segment", show_id=show_id)
    return FileResponse(
        path, media_type="video/mp2t", headers={"Cache-Control": "public, max-age=31536000"}
    )


@files.get("/{show_id}/stored/{rendition}.m3u8")
async def stored_playlist(
    show_id: IdPath, rendition: Literal["live", "encoded"], request: Request, uow: UowDep
) -> Response:
    """storage=s3 with a private bucket (LIVECART_S3_PRESIGN): the replay's playlist from the
    bucket, every segment a presigned URL. Cached for a minute, well inside the signatures."""
    settings: Settings = request.app.state.settings
    replay = await service.MediaContext(uow, request.app.state.hub).media.replay(show_id)
    if replay is None or service.rendition(replay) != rendition:
        raise NotFound("playlist", show_id=show_id)
    key = service.stored_key(replay)
    if key is None:
        raise NotFound("playlist", show_id=show_id)
    body = await asyncio.to_thread(
        stored.signed_playlist, request.app.state.storage, key, expires_s=settings.s3_presign_secs
    )
    cache = {"Cache-Control": "private, max-age=60"}
    return Response(body, media_type=PLAYLIST_TYPE, headers=cache)


def _presign(request: Request) -> bool:
    settings: Settings = request.app.state.settings
    return settings.storage == "s3" and settings.s3_presign


# --- the replay ------------------------------------------------------------------------------


@router.get("/shows/{show_id}/replay")
async def get_replay(show_id: IdPath, request: Request, uow: UowDep) -> ReplayOut:
    """The show's replay: its playlist, the server time of video t = 0, and its markers (看点)
    in video milliseconds, corrected for the stream's delay."""
    return await service.replay_view(_ctx(request, uow), show_id, presign=_presign(request))


@router.get("/shows/{show_id}/replay/chapters.vtt", response_class=PlainTextResponse)
async def get_chapters(show_id: IdPath, request: Request, uow: UowDep) -> Response:
    """The product explanations as WebVTT chapters."""
    body = await service.chapters(_ctx(request, uow), show_id)
    return Response(body, media_type="text/vtt; charset=utf-8")


@router.post("/shows/{show_id}/replay/markers", status_code=status.HTTP_201_CREATED)
async def add_marker(
    show_id: IdPath, data: MarkerIn, request: Request, user: CurrentUser, uow: UowDep
) -> MarkerOut:
    """Add a marker (the show's host only)."""
    ctx = _ctx(request, uow)
    marker = await service.add_marker(ctx, user, show_id, data)
    return (await service.markers_out(ctx, [marker], await service.shifts_of(ctx, show_id)))[0]


@router.patch("/shows/{show_id}/replay/markers/{marker_id}")
async def update_marker(
    show_id: IdPath,
    marker_id: IdPath,
    data: MarkerPatch,
    request: Request,
    user: CurrentUser,
    uow: UowDep,
) -> MarkerOut:
    """Move or rename a marker (the show's host only)."""
    ctx = _ctx(request, uow)
    marker = await service.update_marker(ctx, user, show_id, marker_id, data)
    return (await service.markers_out(ctx, [marker], await service.shifts_of(ctx, show_id)))[0]


@router.delete("/shows/{show_id}/replay/markers/{marker_id}", status_code=204)
async def delete_marker(
    show_id: IdPath, marker_id: IdPath, request: Request, user: CurrentUser, uow: UowDep
) -> None:
    await service.delete_marker(_ctx(request, uow), user, show_id, marker_id)
