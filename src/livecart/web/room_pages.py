"""The live-room pages: the viewer's room and the host's console. Both talk to the room gateway
over a WebSocket (static/js/room.js); the page only hands them the show, the socket's address
and, for a logged-in user, their own session token for the `hello` message."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from livecart.config import Settings
from livecart.db.deps import UowDep
from livecart.features.accounts.deps import SESSION_COOKIE
from livecart.features.accounts.models import Role
from livecart.features.accounts.repository import AccountsRepository
from livecart.features.rooms.repository import RoomsRepository
from livecart.features.shows.presenter import show_out
from livecart.features.shows.repository import ShowsRepository
from livecart.features.shows.schemas import ShowOut
from livecart.features.shows.service import ShowsContext
from livecart.kit.clock import utcnow
from livecart.web.view import Viewer, login_redirect, render, viewer

router = APIRouter(include_in_schema=False)


def room_socket_url(request: Request, show_id: int) -> str:
    """`settings.room_url` when it is set, else the room port on the host the page came from."""
    settings: Settings = request.app.state.settings
    base = settings.room_url.rstrip("/") if settings.room_url else ""
    if not base:
        host = request.url.hostname or "127.0.0.1"
        if ":" in host:  # an IPv6 literal
            host = f"[{host}]"
        base = f"ws://{host}:{settings.room_port}"
    return f"{base}/rooms/{show_id}"


def not_found(request: Request, who: Viewer) -> HTMLResponse:
    return render(
        request,
        who,
        "message.html",
        status=404,
        title=who.t("notfound.title"),
        message=who.t("notfound.show"),
        glyph="video",
    )


def room_data(request: Request, who: Viewer, show: ShowOut) -> dict[str, Any]:
    """What room.js needs. The token is the user's own session, for the socket's hello only."""
    return {
        "show_id": show.id,
        "title": show.title,
        "state": show.state,
        "host": {"id": show.host.id, "name": show.host.display_name},
        "room_url": room_socket_url(request, show.id),
        "token": request.cookies.get(SESSION_COOKIE) if who.user is not None else None,
        "server_now": utcnow().isoformat(),
        "login_url": "/login?next=" + quote(request.url.path, safe="/"),
        "video_url": f"/live/{show.id}/index.m3u8",
    }


@router.get("/shows/{show_id}/live", response_class=HTMLResponse)
async def room_page(show_id: int, request: Request, uow: UowDep) -> Response:
    who = await viewer(request, uow)
    ctx = ShowsContext(ShowsRepository(uow.session))
    show = await ctx.shows.show(show_id)
    if show is None:
        return not_found(request, who)
    if show.state != "live":
        return RedirectResponse(f"/shows/{show.id}", status_code=303)
    out = await show_out(ctx, show, who.user)
    following = (
        await AccountsRepository(uow.session).is_following(who.user.id, out.host.id)
        if who.user is not None
        else False
    )
    is_own = who.user is not None and who.user.id == out.host.id
    data = room_data(request, who, out)
    data.update(following=following, is_own=is_own, followers=out.host.followers_count)
    return render(
        request,
        who,
        "room.html",
        show=out,
        following=following,
        is_own=is_own,
        page_data=data,
    )


@router.get("/host/shows/{show_id}/console", response_class=HTMLResponse)
async def console_page(show_id: int, request: Request, uow: UowDep) -> Response:
    who = await viewer(request, uow)
    if who.user is None:
        return login_redirect(request)
    ctx = ShowsContext(ShowsRepository(uow.session))
    show = await ctx.shows.show(show_id)
    if show is None:
        return not_found(request, who)
    allowed = (
        who.user.id == show.host_id
        or who.user.role == Role.ADMIN.value
        or await RoomsRepository(uow.session).is_moderator(show.id, who.user.id)
    )
    if not allowed:
        return render(
            request,
            who,
            "message.html",
            status=403,
            title=who.t("forbidden.title"),
            message=who.t("console.forbidden"),
            glyph="lock",
        )
    out = await show_out(ctx, show, who.user)
    media = request.app.state.media
    return render(
        request,
        who,
        "console.html",
        show=out,
        page_data={
            **room_data(request, who, out),
            # Where OBS sends the stream (the key itself is only shown on "My shows").
            "rtmp_server": f"rtmp://{request.url.hostname}:{media.settings.rtmp_port}/live",
            "media_status": media.status,
        },
    )
