"""Server-rendered pages. Data comes from the feature services; actions go through the JSON API
from the page scripts in static/js."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from livecart.db.deps import UowDep
from livecart.features.accounts.repository import AccountsRepository
from livecart.features.media.models import Replay
from livecart.features.shows.presenter import show_out, shows_out
from livecart.features.shows.repository import ShowsRepository
from livecart.features.shows.service import ShowsContext
from livecart.kit.clock import utcnow
from livecart.kit.pagination import PageRequest
from livecart.web import i18n, order_pages, room_pages
from livecart.web.view import forbidden, login_redirect, render, safe_next, viewer

router = APIRouter(include_in_schema=False)
router.include_router(room_pages.router)
router.include_router(order_pages.router)
HOME_LIVE = 10
HOME_UPCOMING = 20
HOME_REPLAYS = 10  # the newest ended shows whose replay is ready
ONE_YEAR = 365 * 24 * 3600


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, uow: UowDep) -> Response:
    who = await viewer(request, uow)
    ctx = ShowsContext(ShowsRepository(uow.session))
    live = await ctx.shows.shows(
        PageRequest(after=None, limit=HOME_LIVE), states=["live"], host_id=None
    )
    upcoming = await ctx.shows.shows(
        PageRequest(after=None, limit=HOME_UPCOMING),
        states=["scheduled"],
        host_id=None,
        upcoming=True,
    )
    ended = await ctx.shows.shows(
        PageRequest(after=None, limit=HOME_REPLAYS * 3), states=["ended"], host_id=None
    )
    ready = set(
        await uow.session.scalars(
            select(Replay.show_id).where(
                Replay.show_id.in_([s.id for s in ended]), Replay.status == "ready"
            )
        )
    )
    replays = [s for s in ended if s.id in ready][:HOME_REPLAYS]
    return render(
        request,
        who,
        "home.html",
        live=await shows_out(ctx, live[:HOME_LIVE], who.user),
        upcoming=await shows_out(ctx, upcoming[:HOME_UPCOMING], who.user),
        replays=await shows_out(ctx, replays, who.user),
    )


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, uow: UowDep, next: str | None = None) -> Response:
    who = await viewer(request, uow)
    if who.user is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(
        request,
        who,
        "login.html",
        next_url=safe_next(next, ""),
        page_data={"next": safe_next(next, "")},
    )


@router.get("/signup", response_class=HTMLResponse)
async def signup_page(
    request: Request, uow: UowDep, next: str | None = None, role: str = "viewer"
) -> Response:
    who = await viewer(request, uow)
    if who.user is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    chosen = role if role in ("viewer", "host", "merchant") else "viewer"
    return render(
        request,
        who,
        "signup.html",
        next_url=safe_next(next, ""),
        role=chosen,
        page_data={"next": safe_next(next, "")},
    )


@router.get("/merchant/products", response_class=HTMLResponse)
async def merchant_products(request: Request, uow: UowDep) -> Response:
    who = await viewer(request, uow)
    if who.user is None:
        return login_redirect(request)
    if not who.is_merchant:
        return forbidden(request, who, "merchant")
    shop = None
    if who.user.merchant_id is not None:
        merchant = await AccountsRepository(uow.session).merchant(who.user.merchant_id)
        shop = merchant.name if merchant else None
    return render(request, who, "merchant_products.html", shop=shop)


@router.get("/host/shows", response_class=HTMLResponse)
async def host_shows(request: Request, uow: UowDep) -> Response:
    who = await viewer(request, uow)
    if who.user is None:
        return login_redirect(request)
    if not who.is_host:
        return forbidden(request, who, "host")
    return render(request, who, "host_shows.html")


@router.get("/shows/{show_id}", response_class=HTMLResponse)
async def show_page(show_id: int, request: Request, uow: UowDep) -> Response:
    who = await viewer(request, uow)
    ctx = ShowsContext(ShowsRepository(uow.session))
    show = await ctx.shows.show(show_id)
    if show is None:
        return room_pages.not_found(request, who)
    if show.state == "live":
        return RedirectResponse(f"/shows/{show.id}/live", status_code=303)
    out = await show_out(ctx, show, who.user)
    following = (
        await AccountsRepository(uow.session).is_following(who.user.id, out.host.id)
        if who.user is not None
        else False
    )
    is_own = who.user is not None and who.user.id == out.host.id
    return render(
        request,
        who,
        "show.html",
        show=out,
        following=following,
        is_own=is_own,
        page_data={
            "show_id": out.id,
            "host_id": out.host.id,
            "state": out.state,
            "planned_start": out.planned_start.isoformat(),
            "server_now": utcnow().isoformat(),
            "login_url": "/login?next=" + quote(f"/shows/{out.id}", safe="/"),
        },
    )


@router.get("/lang/{code}")
async def switch_language(code: str, next: str | None = None) -> Response:
    lang = i18n.normalise(code) or i18n.DEFAULT_LANGUAGE
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(i18n.LANG_COOKIE, lang, max_age=ONE_YEAR, samesite="lax", path="/")
    return response
