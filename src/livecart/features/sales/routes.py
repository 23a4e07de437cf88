"""/api/v1: open a flash sale with a drop, read it, buy through the gate."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response, status

from livecart.db.deps import UowDep
from livecart.errors import NotFound
from livecart.features.accounts.deps import CurrentUser
from livecart.features.catalog.models import Variant
from livecart.features.rooms.service import RoomContext, member
from livecart.features.sales import service
from livecart.features.sales.models import FlashSale
from livecart.features.sales.reconcile import reconcile
from livecart.features.sales.repository import SalesRepository
from livecart.features.sales.schemas import (
    AllocationOut,
    ClaimOut,
    PurchaseIn,
    ReconcileOut,
    SaleIn,
    SaleOut,
)
from livecart.features.shows.repository import ShowsRepository
from livecart.features.shows.service import ShowsContext, hosted_show
from livecart.kit.params import IdPath
from livecart.kit.schemas import ERROR_RESPONSES
from livecart.realtime.hub import Hub

router = APIRouter(prefix="/api/v1", tags=["sales"], responses=ERROR_RESPONSES)
IdempotencyKey = Annotated[
    str,
    Header(
        min_length=8,
        max_length=64,
        pattern=r"^[A-Za-z0-9_\-:.]+$",
        description="One per purchase attempt; a repeat returns the first answer.",
    ),
]


def _announce_stock(uow: UowDep, hub: Hub, sale: FlashSale) -> None:
    """After commit, the room's stock counter (coalesced into its ticks) shows what is left."""
    left = sale.allotted - sale.taken

    async def announce() -> None:
        hub.set_stock(sale.show_id, f"sale:{sale.id}", left)

    uow.after_commit(announce)


async def _product_id(uow: UowDep, sale: FlashSale) -> int:
    variant = await uow.session.get(Variant, sale.variant_id)
    assert variant is not None
    return variant.product_id


@router.post("/shows/{show_id}/sales", status_code=status.HTTP_201_CREATED)
async def open_sale(
    show_id: IdPath, data: SaleIn, request: Request, user: CurrentUser, uow: UowDep
) -> SaleOut:
    """Drop a product with a flash sale (the show's host or moderators; the show must be live).
    Viewers get `drop_opened` with the sale; buying opens at its `opens_at`."""
    ctx = RoomContext(uow, request.app.state.hub)
    m = await member(ctx, show_id, user)
    if m.role.value == "viewer":
        raise NotFound("show", show_id=show_id)
    gate = request.app.state.sale_gate
    sale = await service.open_sale(ctx, m, data, gate)
    _announce_stock(uow, request.app.state.hub, sale)

    async def prime(sale_id: int = sale.id) -> None:  # committed: get ready for the opening
        await gate.prime(sale_id)

    uow.after_commit(prime)
    return service.sale_out(sale, await _product_id(uow, sale))


@router.get("/sales/{sale_id}")
async def get_sale(sale_id: IdPath, uow: UowDep) -> SaleOut:
    sale = await SalesRepository(uow.session).sale(sale_id)
    if sale is None:
        raise NotFound("sale", sale_id=sale_id)
    return service.sale_out(sale, await _product_id(uow, sale))


@router.post(
    "/sales/{sale_id}/purchase",
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": ClaimOut, "description": "A repeated request"}},
)
async def purchase(
    sale_id: IdPath,
    data: PurchaseIn,
    request: Request,
    response: Response,
    user: CurrentUser,
    uow: UowDep,
    idempotency_key: IdempotencyKey,
) -> ClaimOut:
    """Buy. 201 with a claim awaiting payment; 425 `sale_not_open` before `opens_at`; 409
    `sold_out`, `sale_closed` or `buyer_limit_reached`. Repeating a request with the same
    `Idempotency-Key` returns the first answer (200); the same key with another quantity is 422
    `idempotency_key_reused`. The claim is committed before this answers (the gate writes it).
    In a fair_window sale, a request in the window's first W ms is answered when the window
    is decided."""
    # Give the request's database connection back first: the gate's writer needs one to commit
    # the winners this request may be waiting for (holding it would exhaust the pool).
    await uow.commit()
    bought = await service.purchase(
        request.app.state.sale_gate,
        user,
        sale_id,
        quantity=data.quantity,
        key=idempotency_key,
    )
    if bought.created:
        request.app.state.hub.set_stock(bought.show_id, f"sale:{sale_id}", bought.left)
    else:
        response.status_code = status.HTTP_200_OK
    return bought.claim


@router.get("/sales/{sale_id}/allocation")
async def get_allocation(sale_id: IdPath, request: Request, uow: UowDep) -> AllocationOut:
    """A fair_window sale's seed and allocation log, public once the window is decided (425
    `allocation_pending` before). `livecart verify-allocation URL` recomputes it."""
    repo = SalesRepository(uow.session)
    sale = await repo.sale(sale_id)
    if sale is None:
        raise NotFound("sale", sale_id=sale_id)
    return await service.allocation(repo, sale, url=str(request.url))


@router.post("/sales/{sale_id}/reconcile")
async def reconcile_sale(
    sale_id: IdPath,
    request: Request,
    user: CurrentUser,
    uow: UowDep,
    repair: bool = Query(False, description="rebuild the counters from the claims"),
) -> ReconcileOut:
    """The reconciler run inside this server, so it sees the embedded gate's memory (the CLI,
    another process, sees only Redis and the database). The show's host or an admin."""
    sale = await SalesRepository(uow.session).sale(sale_id)
    if sale is None:
        raise NotFound("sale", sale_id=sale_id)
    await hosted_show(ShowsContext(ShowsRepository(uow.session)), user, sale.show_id)
    report = await reconcile(request.app.state.sale_gate, sale_id, repair=repair)
    return ReconcileOut(**report.as_dict())
