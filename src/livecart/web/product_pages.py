"""A product's page for buyers: pictures, variants, add to the bag or buy now. Reached from the
room, a replay's buy button (with `source=replay`, the show and the video time) or a shared link;
that attribution goes with the line into the bag and from there onto the order."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from livecart.db.deps import UowDep
from livecart.features.catalog.repository import CatalogRepository
from livecart.features.catalog.service import product_out
from livecart.kit.schemas import MAX_ID
from livecart.web import room_pages
from livecart.web.view import render, viewer

router = APIRouter(include_in_schema=False)
MAX_VIDEO_MS = 48 * 3600 * 1000


@router.get("/products/{product_id}", response_class=HTMLResponse)
async def product_page(
    product_id: int,
    request: Request,
    uow: UowDep,
    source: Literal["live", "replay", "link_out", "direct"] = "direct",
    show_id: int | None = Query(None, ge=1, le=MAX_ID),
    video_time_ms: int | None = Query(None, ge=0, le=MAX_VIDEO_MS),
) -> Response:
    who = await viewer(request, uow)
    product = (
        await CatalogRepository(uow.session).product(product_id) if product_id <= MAX_ID else None
    )
    if product is None or product.archived:
        return room_pages.not_found(request, who)
    if source == "direct" or show_id is None:  # attribution needs a show; without one it is direct
        source, show_id, video_time_ms = "direct", None, None
    out = product_out(product)
    variants = [v for v in out.variants if not v.archived]
    return render(
        request,
        who,
        "product.html",
        product=out,
        variants=variants,
        source=source,
        show_id=show_id,
        video_time_ms=video_time_ms,
        page_data={
            "product_id": out.id,
            "currency": out.currency,
            "variants": [v.model_dump(mode="json") for v in variants],
            "attribution": {"source": source, "show_id": show_id, "video_time_ms": video_time_ms},
        },
    )
