"""The buyer's bag and orders, and the merchant's orders. The order page is rendered here in
full; the bag and the order lists are drawn by their scripts (static/js/cart.js, orders.js,
merchant_orders.js) from the JSON API, which also carries out every action."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, get_args

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from livecart.db.deps import UowDep
from livecart.errors import NotFound
from livecart.features.accounts.repository import AccountsRepository
from livecart.features.catalog.repository import CatalogRepository
from livecart.features.orders import cart, service
from livecart.features.orders.models import Order
from livecart.features.orders.repository import OrdersRepository
from livecart.features.orders.routes import StatusFilter
from livecart.features.orders.schemas import OrderOut
from livecart.features.shows.models import Show
from livecart.kit.storage import current_storage
from livecart.web.i18n import catalog
from livecart.web.view import Viewer, forbidden, login_redirect, render, viewer

router = APIRouter(include_in_schema=False)
STATUSES: tuple[str, ...] = get_args(StatusFilter)
# Message groups these pages' scripts use (the base page embeds only the older groups).
JS_GROUPS = ("cart.", "orders.", "order.", "morders.")
MAX_SHOWS = 200


def _messages(who: Viewer) -> dict[str, str]:
    return {k: v for k, v in catalog(who.t.lang).items() if k.startswith(JS_GROUPS)}


def _status(value: str | None) -> str:
    return value if value in STATUSES else ""


async def _show_titles(uow: UowDep, show_ids: Iterable[int | None]) -> dict[int, str]:
    ids = sorted({i for i in show_ids if i is not None})[:MAX_SHOWS]
    if not ids:
        return {}
    rows = await uow.session.execute(select(Show.id, Show.title).where(Show.id.in_(ids)))
    return {int(show_id): str(title) for show_id, title in rows.all()}


async def _order_show_ids(
    uow: UowDep, *, buyer_id: int | None = None, merchant_id: int | None = None
) -> list[int]:
    query = select(Order.show_id).where(Order.show_id.is_not(None)).distinct()
    if buyer_id is not None:
        query = query.where(Order.buyer_id == buyer_id)
    if merchant_id is not None:
        query = query.where(Order.merchant_id == merchant_id)
    rows = await uow.session.scalars(query.limit(MAX_SHOWS))
    return [int(r) for r in rows if r is not None]


@dataclass(frozen=True, slots=True)
class Step:
    """One point on an order's timeline: `order.step.<key>`, when it happened, if it did."""

    key: str
    at: datetime | None
    done: bool


def timeline(order: OrderOut) -> list[Step]:
    """Placed → paid → shipped → delivered → completed, or placed → closed, and a refund's end."""
    steps = [Step("created", order.created_at, True)]
    if order.status in ("cancelled", "expired"):
        return [*steps, Step(order.status, None, True)]
    steps += [
        Step("paid", order.paid_at, order.paid_at is not None),
        Step("shipped", order.shipped_at, order.shipped_at is not None),
        Step("delivered", order.delivered_at, order.delivered_at is not None),
        Step("completed", order.completed_at, order.completed_at is not None),
    ]
    if order.status == "refunded":
        done = [s for s in steps if s.done]
        refund_at = order.refund.decided_at if order.refund else None
        return [*done, Step("refunded", refund_at, True)]
    return steps


def video_time(ms: int | None) -> str:
    """12:34 (or 1:02:03) into a replay."""
    total = (ms or 0) // 1000
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def attribution(who: Viewer, order: OrderOut, show_title: str | None) -> str:
    if order.show_id is None or order.source == "direct":
        return who.t("order.direct")
    title = show_title or who.t("order.unknown_show")
    if order.source == "replay":
        return who.t("order.from_replay", title=title, time=video_time(order.video_time_ms))
    if order.source == "link_out":
        return who.t("order.from_link", title=title)
    return who.t("order.from_show", title=title)


def order_not_found(request: Request, who: Viewer) -> HTMLResponse:
    return render(
        request,
        who,
        "message.html",
        status=404,
        title=who.t("order.notfound_title"),
        message=who.t("order.notfound_body"),
        glyph="box",
    )


@router.get("/cart", response_class=HTMLResponse)
async def cart_page(request: Request, uow: UowDep) -> Response:
    who = await viewer(request, uow)
    if who.user is None:
        return login_redirect(request)
    repo = OrdersRepository(uow.session)
    out = await cart.cart_out(repo, CatalogRepository(uow.session), who.user)
    titles = await _show_titles(uow, (line.show_id for line in out.lines))
    return render(
        request,
        who,
        "cart.html",
        page_data={
            "cart": out.model_dump(mode="json"),
            "shows": {str(k): v for k, v in titles.items()},
            "i18n": _messages(who),
        },
    )


@router.get("/orders", response_class=HTMLResponse)
async def orders_page(request: Request, uow: UowDep, status: str | None = None) -> Response:
    who = await viewer(request, uow)
    if who.user is None:
        return login_redirect(request)
    titles = await _show_titles(uow, await _order_show_ids(uow, buyer_id=who.user.id))
    chosen = _status(status)
    return render(
        request,
        who,
        "orders.html",
        statuses=STATUSES,
        chosen=chosen,
        page_data={
            "status": chosen,
            "shows": {str(k): v for k, v in titles.items()},
            "i18n": _messages(who),
        },
    )


@router.get("/orders/{order_id}", response_class=HTMLResponse)
async def order_page(order_id: int, request: Request, uow: UowDep) -> Response:
    who = await viewer(request, uow)
    if who.user is None:
        return login_redirect(request)
    ctx = service.Orders(
        OrdersRepository(uow.session), request.app.state.payment_provider, uow.after_commit
    )
    try:
        order = await service.buyers_order(ctx, who.user, order_id)
    except NotFound:
        return order_not_found(request, who)
    out = (await service.orders_out(ctx, [order]))[0]
    titles = await _show_titles(uow, [out.show_id])
    merchant = await AccountsRepository(uow.session).merchant(out.merchant_id)
    products = await CatalogRepository(uow.session).products_by_ids(
        sorted({i.product_id for i in out.items})
    )
    images = {p.id: current_storage().url(p.images[0].storage_key) for p in products if p.images}
    paying = request.query_params.get("paying") == "1"
    data: dict[str, Any] = {
        "order": out.model_dump(mode="json"),
        "paying": paying,
        "i18n": _messages(who),
    }
    return render(
        request,
        who,
        "order.html",
        order=out,
        shop=merchant.name if merchant else None,
        attribution=attribution(who, out, titles.get(out.show_id) if out.show_id else None),
        steps=timeline(out),
        can_refund=out.status in ("paid", "shipped", "delivered", "completed")
        and (out.refund is None or out.refund.status == "rejected"),
        images=images,
        paying=paying,
        page_data=data,
    )


@router.get("/merchant/orders", response_class=HTMLResponse)
async def merchant_orders_page(
    request: Request,
    uow: UowDep,
    status: str | None = None,
    show_id: int | None = None,
    refund: str | None = None,
) -> Response:
    return await _merchant_orders(request, uow, status, show_id, refund == "requested", None)


@router.get("/merchant/orders/{order_id}", response_class=HTMLResponse)
async def merchant_order_page(order_id: int, request: Request, uow: UowDep) -> Response:
    """One order of the shop (a link to share with a colleague, or from a notification)."""
    return await _merchant_orders(request, uow, None, None, False, order_id)


async def _merchant_orders(
    request: Request,
    uow: UowDep,
    status: str | None,
    show_id: int | None,
    to_decide: bool,
    order_id: int | None,
) -> Response:
    who = await viewer(request, uow)
    if who.user is None:
        return login_redirect(request)
    if not who.is_merchant or who.user.merchant_id is None:
        return forbidden(request, who, "merchant")
    if order_id is not None:
        order = await OrdersRepository(uow.session).order(order_id)
        if order is None or order.merchant_id != who.user.merchant_id:
            return order_not_found(request, who)
    titles = await _show_titles(uow, await _order_show_ids(uow, merchant_id=who.user.merchant_id))
    merchant = await AccountsRepository(uow.session).merchant(who.user.merchant_id)
    chosen = "" if to_decide else _status(status)
    show = show_id if show_id in titles else None
    return render(
        request,
        who,
        "merchant_orders.html",
        statuses=STATUSES,
        chosen=chosen,
        to_decide=to_decide,
        order_id=order_id,
        show_id=show,
        shows=sorted(titles.items(), reverse=True),
        shop=merchant.name if merchant else None,
        page_data={
            "status": chosen,
            "refund": "requested" if to_decide else None,
            "order_id": order_id,
            "show_id": show,
            "shows": {str(k): v for k, v in titles.items()},
            "i18n": _messages(who),
        },
    )
