"""The replay page (回放): the show's video with its markers (看点) and products."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from livecart.db.deps import UowDep
from livecart.features.accounts.models import Role
from livecart.features.shows.presenter import show_out
from livecart.features.shows.repository import ShowsRepository
from livecart.features.shows.service import ShowsContext
from livecart.web.room_pages import not_found
from livecart.web.view import render, viewer

router = APIRouter(include_in_schema=False)


@router.get("/shows/{show_id}/replay", response_class=HTMLResponse)
async def replay_page(show_id: int, request: Request, uow: UowDep) -> Response:
    who = await viewer(request, uow)
    ctx = ShowsContext(ShowsRepository(uow.session))
    show = await ctx.shows.show(show_id)
    if show is None:
        return not_found(request, who)
    if show.state == "live":
        return RedirectResponse(f"/shows/{show.id}/live", status_code=303)
    out = await show_out(ctx, show, who.user)
    is_host = who.user is not None and (
        who.user.id == show.host_id or who.user.role == Role.ADMIN.value
    )
    return render(
        request,
        who,
        "replay.html",
        show=out,
        page_data={"show_id": out.id, "title": out.title, "is_host": is_host},
    )
