"""Catalog: products, images, variants and the one way stock changes. Services never commit."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.orm.attributes import set_committed_value

from livecart.errors import AppError, Conflict, Forbidden, NotFound, Unauthorized
from livecart.features.accounts.models import Role, User
from livecart.features.accounts.repository import AccountsRepository
from livecart.features.catalog import rules
from livecart.features.catalog.models import Product, ProductImage, StockMovement, Variant
from livecart.features.catalog.repository import MAX_IMAGES, CatalogRepository
from livecart.features.catalog.schemas import (
    ImageOut,
    ProductIn,
    ProductOut,
    ProductPatch,
    VariantIn,
    VariantOut,
    VariantPatch,
)
from livecart.kit.images import CheckedImage
from livecart.kit.money import Money, MoneyError
from livecart.kit.pagination import PageRequest
from livecart.kit.storage import Storage, current_storage


def require_staff(actor: User | None) -> tuple[User, int]:
    """The actor and their merchant id, if they are a merchant's staff."""
    if actor is None:
        raise Unauthorized()
    if actor.role != Role.MERCHANT_STAFF.value or actor.merchant_id is None:
        raise Forbidden("Only a merchant's staff can manage products.", code="merchant_required")
    return actor, actor.merchant_id


async def owned_product(repo: CatalogRepository, actor: User | None, product_id: int) -> Product:
    """The product, if the actor is staff of its merchant. Another merchant's product is 404 so
    that ids do not reveal what exists."""
    _, merchant_id = require_staff(actor)
    product = await repo.product(product_id)
    if product is None or product.merchant_id != merchant_id:
        raise NotFound("product", product_id=product_id)
    return product


def to_minor(amount: Decimal | None, currency: str) -> int | None:
    if amount is None:
        return None
    try:
        return Money(amount, currency).minor
    except MoneyError as exc:
        raise AppError("invalid_amount", str(exc), status=422, data={"currency": currency}) from exc


def _check_prices(price_minor: int, list_price_minor: int | None) -> None:
    try:
        rules.check_prices(price_minor, list_price_minor)
    except rules.StockRuleError as exc:
        raise AppError(exc.code, str(exc), status=422) from exc


async def create_product(repo: CatalogRepository, actor: User | None, data: ProductIn) -> Product:
    staff, merchant_id = require_staff(actor)
    skus = [v.sku for v in data.variants]
    if len(set(skus)) != len(skus):
        raise AppError("duplicate_sku", "Each variant needs its own SKU.", status=422)
    product = Product(
        merchant_id=merchant_id,
        title=data.title,
        description=data.description,
        category=data.category,
        currency=data.currency,
        open_to_hosts=data.open_to_hosts,
        archived=False,
    )
    repo.session.add(product)
    await repo.session.flush()
    for variant_in in data.variants:
        await _insert_variant(repo, product, variant_in, actor=staff)
    return await _reload(repo, product.id)


async def update_product(
    repo: CatalogRepository, actor: User | None, product_id: int, data: ProductPatch
) -> Product:
    product = await owned_product(repo, actor, product_id)
    for field in data.model_fields_set:
        value = getattr(data, field)
        if value is None:
            raise AppError(
                "field_not_nullable", f"{field} cannot be null.", status=422, data={"field": field}
            )
        setattr(product, field, value)
    await repo.session.flush()
    return await _reload(repo, product.id)


async def add_variant(
    repo: CatalogRepository, actor: User | None, product_id: int, data: VariantIn
) -> Variant:
    product = await owned_product(repo, actor, product_id)
    assert actor is not None
    return await _insert_variant(repo, product, data, actor=actor)


async def _insert_variant(
    repo: CatalogRepository, product: Product, data: VariantIn, *, actor: User
) -> Variant:
    price = to_minor(data.price, product.currency)
    assert price is not None
    list_price = to_minor(data.list_price, product.currency)
    _check_prices(price, list_price)
    if await repo.sku_taken(product.id, data.sku):
        raise Conflict(
            "duplicate_sku", "This product already has a variant with that SKU.", sku=data.sku
        )
    variant = Variant(
        product_id=product.id,
        sku=data.sku,
        options=dict(data.options),
        price_minor=price,
        list_price_minor=list_price,
        stock=0,
        archived=False,
    )
    repo.session.add(variant)
    await repo.session.flush()
    if data.stock:
        await change_stock(repo, variant, data.stock, reason="initial", actor=actor)
    return variant


async def update_variant(
    repo: CatalogRepository, actor: User | None, variant_id: int, data: VariantPatch
) -> Variant:
    variant = await owned_variant(repo, actor, variant_id)
    currency = variant.product.currency
    price = to_minor(data.price, currency) if data.price is not None else variant.price_minor
    assert price is not None
    list_price = variant.list_price_minor
    if "list_price" in data.model_fields_set:
        list_price = to_minor(data.list_price, currency)
    _check_prices(price, list_price)
    variant.price_minor, variant.list_price_minor = price, list_price
    if data.options is not None:
        variant.options = dict(data.options)
    if data.archived is not None:
        variant.archived = data.archived
    await repo.session.flush()
    return variant


async def owned_variant(repo: CatalogRepository, actor: User | None, variant_id: int) -> Variant:
    _, merchant_id = require_staff(actor)
    variant = await repo.variant(variant_id)
    if variant is None or variant.product.merchant_id != merchant_id:
        raise NotFound("variant", variant_id=variant_id)
    return variant


async def change_stock(
    repo: CatalogRepository, variant: Variant, delta: int, *, reason: str, actor: User | None
) -> int:
    """The one function through which stock changes. Atomic in the database: concurrent callers
    cannot take stock below zero; the CHECK constraint backs this up."""
    try:
        rules.stock_after(variant.stock, delta)
    except rules.StockRuleError as exc:
        if (
            exc.code != "insufficient_stock"
        ):  # the row may hold more than our copy: ask the database
            raise AppError(exc.code, str(exc), status=422) from exc
    after = await repo.add_to_stock(variant.id, delta)
    if after is None:
        raise Conflict(
            "insufficient_stock",
            "Not enough stock for this change.",
            variant_id=variant.id,
            delta=delta,
        )
    if after > rules.MAX_STOCK:
        raise AppError("stock_too_large", f"Stock is capped at {rules.MAX_STOCK}.", status=422)
    set_committed_value(variant, "stock", after)  # the row already holds it: no second UPDATE
    repo.record_movement(
        StockMovement(
            variant_id=variant.id,
            delta=delta,
            stock_after=after,
            reason=reason,
            actor_id=actor.id if actor else None,
        )
    )
    await repo.session.flush()
    return after


async def add_image(
    repo: CatalogRepository,
    actor: User | None,
    product_id: int,
    image: CheckedImage,
    storage: Storage,
) -> Product:
    product = await owned_product(repo, actor, product_id)
    count = await repo.image_count(product.id)
    if count >= MAX_IMAGES:
        raise Conflict("too_many_images", f"A product has at most {MAX_IMAGES} images.")
    key = storage.save_image(image, folder="products")
    repo.session.add(
        ProductImage(
            product_id=product.id,
            storage_key=key,
            content_type=image.content_type,
            width=image.width,
            height=image.height,
            position=count,
        )
    )
    await repo.session.flush()
    return await _reload(repo, product.id)


async def remove_image(
    repo: CatalogRepository, actor: User | None, product_id: int, image_id: int
) -> Product:
    product = await owned_product(repo, actor, product_id)
    image = next((img for img in product.images if img.id == image_id), None)
    if image is None:
        raise NotFound("image", image_id=image_id)
    await repo.session.delete(image)
    await repo.session.flush()
    return await _reload(repo, product.id)


async def products_for_host(
    catalog: CatalogRepository,
    accounts: AccountsRepository,
    actor: User | None,
    page: PageRequest,
    *,
    text: str | None,
) -> list[Product]:
    """What a host may put in a show's lineup: open-to-hosts products and their merchant's own."""
    _, merchant_id = await host_merchant(accounts, actor)
    return await catalog.products(page, host_view=True, host_merchant_id=merchant_id, text=text)


async def host_merchant(
    accounts: AccountsRepository, actor: User | None
) -> tuple[User, int | None]:
    if actor is None:
        raise Unauthorized()
    if actor.role not in (Role.HOST.value, Role.ADMIN.value):
        raise Forbidden("This needs a host account.", code="role_required")
    profile = await accounts.host_profile(actor.id)
    return actor, profile.merchant_id if profile else None


def may_show(product: Product, host_merchant_id: int | None) -> bool:
    return not product.archived and (
        product.open_to_hosts or product.merchant_id == host_merchant_id
    )


async def _reload(repo: CatalogRepository, product_id: int) -> Product:
    product = await repo.product(product_id, fresh=True)
    assert product is not None
    return product


def variant_out(variant: Variant, currency: str) -> VariantOut:
    return VariantOut(
        id=variant.id,
        product_id=variant.product_id,
        sku=variant.sku,
        options=variant.options,
        stock=variant.stock,
        archived=variant.archived,
        price=Money.from_minor(variant.price_minor, currency).amount,
        list_price=Money.from_minor(variant.list_price_minor, currency).amount
        if variant.list_price_minor is not None
        else None,
    )


def product_out(product: Product) -> ProductOut:
    live = [v for v in product.variants if not v.archived]
    cheapest = min((v.price_minor for v in live), default=None)
    return ProductOut(
        id=product.id,
        merchant_id=product.merchant_id,
        title=product.title,
        description=product.description,
        category=product.category,
        currency=product.currency,
        open_to_hosts=product.open_to_hosts,
        archived=product.archived,
        price_from=Money.from_minor(cheapest, product.currency).amount if cheapest else None,
        stock_total=sum(v.stock for v in live),
        images=[
            ImageOut(
                id=i.id,
                url=current_storage().url(i.storage_key) or "",
                width=i.width,
                height=i.height,
            )
            for i in product.images
        ],
        variants=[variant_out(v, product.currency) for v in product.variants],
        created_at=product.created_at,
        updated_at=product.updated_at,
    )
