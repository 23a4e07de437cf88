from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import Field, model_validator

from livecart.kit.schemas import Id, In, Out

Source = Literal["live", "replay", "link_out", "direct"]
MAX_QUANTITY = 99
MAX_VIDEO_MS = 48 * 3600 * 1000


class Attribution(In):
    """Where the buyer decided: a live show, its replay (with the video time), a shared link."""

    source: Source = "direct"
    show_id: Id | None = None
    video_time_ms: int | None = Field(default=None, ge=0, le=MAX_VIDEO_MS)

    @model_validator(mode="after")
    def _show_when_needed(self) -> Attribution:
        if self.source != "direct" and self.show_id is None:
            raise ValueError(f"source {self.source!r} needs show_id")
        if self.source == "direct" and self.show_id is not None:
            raise ValueError("a show's purchase has source live, replay or link_out")
        return self


class CartItemIn(Attribution):
    variant_id: Id
    quantity: int = Field(default=1, ge=1, le=MAX_QUANTITY)


class CartQuantityIn(In):
    quantity: int = Field(ge=0, le=MAX_QUANTITY, description="0 removes the line")


class CartLineOut(Out):
    variant_id: int
    product_id: int
    merchant_id: int
    title: str
    options: dict[str, str]
    quantity: int
    unit_price: Decimal
    currency: str
    stock: int
    image_url: str | None
    source: str
    show_id: int | None
    video_time_ms: int | None


class CartOut(Out):
    lines: list[CartLineOut]
    totals: dict[str, Decimal]


class ShipTo(In):
    name: str = Field(min_length=1, max_length=40)
    phone: str = Field(min_length=5, max_length=20, pattern=r"^\+?[0-9 \-]{5,20}$")
    region: str = Field(min_length=1, max_length=60)
    address: str = Field(min_length=3, max_length=200)


class CheckoutIn(In):
    """Order the whole bag, or just `items` (buy now). One order per merchant and show."""

    ship_to: ShipTo
    items: list[CartItemIn] | None = Field(default=None, min_length=1, max_length=50)


class PayIn(In):
    ship_to: ShipTo | None = Field(
        default=None, description="Needed once, for orders made without an address (flash sales)"
    )


class ShipIn(In):
    carrier: str = Field(min_length=2, max_length=40)
    tracking_number: str = Field(min_length=4, max_length=64, pattern=r"^[A-Za-z0-9\-]+$")


class RefundRequestIn(In):
    reason: str = Field(min_length=2, max_length=500)


class RefundDecisionIn(In):
    approve: bool
    restock: bool = Field(default=True, description="Put the units back on sale when approved")
    note: str | None = Field(default=None, max_length=500)


class OrderItemOut(Out):
    product_id: int
    variant_id: int
    title: str
    options: dict[str, str]
    quantity: int
    unit_price: Decimal
    image_url: str | None = Field(description="the product's first image today")


class RefundOut(Out):
    id: int
    status: Literal["requested", "approved", "rejected", "refunded"]
    reason: str
    amount: Decimal
    restock: bool
    note: str | None
    created_at: datetime
    decided_at: datetime | None


class OrderOut(Out):
    id: int
    buyer_id: int
    merchant_id: int
    merchant_name: str | None = Field(description="the shop's name")
    status: Literal[
        "awaiting_payment",
        "paid",
        "shipped",
        "delivered",
        "completed",
        "cancelled",
        "expired",
        "refunded",
    ]
    source: str
    show_id: int | None
    host_id: int | None
    video_time_ms: int | None
    sale_id: int | None
    currency: str
    total: Decimal
    items: list[OrderItemOut]
    ship_to: dict[str, str] | None
    carrier: str | None
    tracking_number: str | None
    expires_at: datetime | None
    created_at: datetime
    paid_at: datetime | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    completed_at: datetime | None
    payment_status: str | None
    refund: RefundOut | None


class PaymentStartOut(Out):
    order_id: int
    provider: str
    pay_url: str
    status: str
