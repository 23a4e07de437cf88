from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from livecart.kit.categories import Category
from livecart.kit.money import MAX_AMOUNT
from livecart.kit.schemas import In, Out

Currency = Literal["CNY", "USD", "EUR", "HKD", "GBP", "JPY", "KRW"]
Amount = Annotated[Decimal, Field(gt=0, le=MAX_AMOUNT, max_digits=12, decimal_places=2)]
OptionText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=30)]
Sku = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-]*$"
    ),
]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
MAX_VARIANTS = 50


class VariantIn(In):
    sku: Sku
    options: dict[OptionText, OptionText] = Field(default_factory=dict, max_length=5)
    price: Amount
    list_price: Amount | None = None
    stock: int = Field(default=0, ge=0, le=10_000_000)


class VariantPatch(In):
    options: dict[OptionText, OptionText] | None = Field(default=None, max_length=5)
    price: Amount | None = None
    list_price: Amount | None = None
    archived: bool | None = None


class StockChangeIn(In):
    delta: int = Field(ge=-10_000_000, le=10_000_000)
    reason: Literal["restock", "correction", "damaged", "returned", "other"] = "restock"


class ProductIn(In):
    title: Title
    description: str = Field(default="", max_length=5000)
    category: Category
    currency: Currency = "CNY"
    open_to_hosts: bool = False
    variants: list[VariantIn] = Field(default_factory=list, max_length=MAX_VARIANTS)


class ProductPatch(In):
    title: Title | None = None
    description: str | None = Field(default=None, max_length=5000)
    category: Category | None = None
    open_to_hosts: bool | None = None
    archived: bool | None = None


class ImageOut(Out):
    id: int
    url: str
    width: int
    height: int


class VariantOut(Out):
    id: int
    product_id: int
    sku: str
    options: dict[str, str]
    price: Decimal
    list_price: Decimal | None
    stock: int
    archived: bool


class ProductOut(Out):
    id: int
    merchant_id: int
    title: str
    description: str
    category: str
    currency: str
    open_to_hosts: bool
    archived: bool
    price_from: Decimal | None
    stock_total: int
    images: list[ImageOut]
    variants: list[VariantOut]
    created_at: datetime
    updated_at: datetime
