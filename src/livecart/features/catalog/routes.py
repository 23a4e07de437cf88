"""/api/v1/products, /variants, /merchants/me/products, /hosts/me/products."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, UploadFile, status

from livecart.db.deps import UowDep
from livecart.errors import NotFound
from livecart.features.accounts.deps import CurrentUser, OptionalUser
from livecart.features.accounts.repository import AccountsRepository
from livecart.features.catalog import service
from livecart.features.catalog.models import Product
from livecart.features.catalog.repository import CatalogRepository
from livecart.features.catalog.schemas import (
    ProductIn,
    ProductOut,
    ProductPatch,
    StockChangeIn,
    VariantIn,
    VariantOut,
    VariantPatch,
)
from livecart.kit.categories import Category
from livecart.kit.images import check_image
from livecart.kit.pagination import DEFAULT_LIMIT, MAX_LIMIT, encode_cursor, page_request
from livecart.kit.params import SEARCH_PATTERN, IdFilter, IdPath
from livecart.kit.schemas import ERROR_RESPONSES, Page

router = APIRouter(prefix="/api/v1", tags=["catalog"], responses=ERROR_RESPONSES)
SearchText = Query(None, min_length=1, max_length=60, pattern=SEARCH_PATTERN)


def product_page(rows: list[Product], limit: int) -> Page[ProductOut]:
    more = len(rows) > limit
    rows = rows[:limit]
    return Page[ProductOut](
        items=[service.product_out(p) for p in rows],
        next_cursor=encode_cursor(rows[-1].id) if more and rows else None,
    )


@router.get("/products")
async def list_products(
    uow: UowDep,
    cursor: str | None = None,
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
    merchant_id: IdFilter = None,
    category: Category | None = None,
    open_to_hosts: bool | None = None,
    q: str | None = SearchText,
) -> Page[ProductOut]:
    """Active products, newest first."""
    page = page_request(cursor, limit)
    rows = await CatalogRepository(uow.session).products(
        page, merchant_id=merchant_id, category=category, open_to_hosts=open_to_hosts, text=q
    )
    return product_page(rows, page.limit)


@router.get("/merchants/me/products")
async def my_products(
    user: CurrentUser,
    uow: UowDep,
    cursor: str | None = None,
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
    include_archived: bool = True,
    q: str | None = SearchText,
) -> Page[ProductOut]:
    """The merchant's own products, archived ones included unless told otherwise."""
    _, merchant_id = service.require_staff(user)
    page = page_request(cursor, limit)
    rows = await CatalogRepository(uow.session).products(
        page, merchant_id=merchant_id, include_archived=include_archived, text=q
    )
    return product_page(rows, page.limit)


@router.get("/hosts/me/products")
async def products_for_my_shows(
    user: CurrentUser,
    uow: UowDep,
    cursor: str | None = None,
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
    q: str | None = SearchText,
) -> Page[ProductOut]:
    """Products this host may put in a show's lineup."""
    page = page_request(cursor, limit)
    rows = await service.products_for_host(
        CatalogRepository(uow.session), AccountsRepository(uow.session), user, page, text=q
    )
    return product_page(rows, page.limit)


@router.post("/products", status_code=status.HTTP_201_CREATED)
async def create_product(data: ProductIn, user: CurrentUser, uow: UowDep) -> ProductOut:
    return service.product_out(
        await service.create_product(CatalogRepository(uow.session), user, data)
    )


@router.get("/products/{product_id}")
async def get_product(product_id: IdPath, uow: UowDep, viewer: OptionalUser) -> ProductOut:
    """A product. Archived products are visible only to their merchant's staff."""
    product = await CatalogRepository(uow.session).product(product_id)
    if product is None or (
        product.archived and (viewer is None or viewer.merchant_id != product.merchant_id)
    ):
        raise NotFound("product", product_id=product_id)
    return service.product_out(product)


@router.patch("/products/{product_id}")
async def update_product(
    product_id: IdPath, data: ProductPatch, user: CurrentUser, uow: UowDep
) -> ProductOut:
    return service.product_out(
        await service.update_product(CatalogRepository(uow.session), user, product_id, data)
    )


@router.post("/products/{product_id}/variants", status_code=status.HTTP_201_CREATED)
async def add_variant(
    product_id: IdPath, data: VariantIn, user: CurrentUser, uow: UowDep
) -> VariantOut:
    repo = CatalogRepository(uow.session)
    variant = await service.add_variant(repo, user, product_id, data)
    product = await service.owned_product(repo, user, product_id)
    return service.variant_out(variant, product.currency)


@router.patch("/variants/{variant_id}")
async def update_variant(
    variant_id: IdPath, data: VariantPatch, user: CurrentUser, uow: UowDep
) -> VariantOut:
    variant = await service.update_variant(CatalogRepository(uow.session), user, variant_id, data)
    return service.variant_out(variant, variant.product.currency)


@router.post("/variants/{variant_id}/stock")
async def change_stock(
    variant_id: IdPath, data: StockChangeIn, user: CurrentUser, uow: UowDep
) -> VariantOut:
    """Add or remove stock. Refused with `insufficient_stock` if it would go below zero."""
    repo = CatalogRepository(uow.session)
    variant = await service.owned_variant(repo, user, variant_id)
    await service.change_stock(repo, variant, data.delta, reason=data.reason, actor=user)
    return service.variant_out(variant, variant.product.currency)


@router.post("/products/{product_id}/images", status_code=status.HTTP_201_CREATED)
async def upload_image(
    product_id: IdPath, file: UploadFile, request: Request, user: CurrentUser, uow: UowDep
) -> ProductOut:
    """Add an image (JPEG, PNG or WebP, at most 5 MB)."""
    settings = request.app.state.settings
    repo = CatalogRepository(uow.session)
    await service.owned_product(repo, user, product_id)  # refuse before reading the body
    image = check_image(
        await file.read(settings.max_upload_bytes + 1), max_bytes=settings.max_upload_bytes
    )
    return service.product_out(
        await service.add_image(repo, user, product_id, image, request.app.state.storage)
    )


@router.delete("/products/{product_id}/images/{image_id}")
async def delete_image(
    product_id: IdPath, image_id: IdPath, user: CurrentUser, uow: UowDep
) -> ProductOut:
    return service.product_out(
        await service.remove_image(CatalogRepository(uow.session), user, product_id, image_id)
    )
