"""The sandbox provider's hosted payment page. It stands where a real provider's page would be
(a different site in production): the buyer arrives from `pay_url`, presses pay or decline, and
is sent back to the shop, which learns the outcome only from the signed notification."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from livecart.db.deps import UowDep
from livecart.errors import AppError
from livecart.features.orders.sandbox import bank
from livecart.kit.money import Money
from livecart.web import room_pages
from livecart.web.view import render, safe_next, viewer

router = APIRouter(include_in_schema=False)
REF_PATTERN = r"^ch_[0-9a-f]{24}$"


@router.get("/sandbox/pay/{ref}", response_class=HTMLResponse)
async def payment_page(ref: str, request: Request, uow: UowDep) -> Response:
    who = await viewer(request, uow)
    try:
        charge = await bank.charge_by_ref(uow.session, ref)
    except AppError:
        return room_pages.not_found(request, who)
    return render(
        request,
        who,
        "sandbox_pay.html",
        charge=charge,
        amount=Money.from_minor(charge.amount_minor, charge.currency).amount,
        back=safe_next(charge.return_url),
    )


@router.post("/sandbox/pay/{ref}")
async def settle(
    ref: str,
    request: Request,
    uow: UowDep,
    outcome: Annotated[str, Form(pattern="^(pay|decline)$")],
) -> Response:
    provider = request.app.state.payment_provider
    charge = await bank.settle(uow.session, ref, paid=outcome == "pay", chaos=provider.chaos)
    return RedirectResponse(safe_next(charge.return_url) + "?paying=1", status_code=303)
