from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import Field

from livecart.features.catalog.schemas import Amount
from livecart.kit.schemas import In, Out

MAX_UNITS = 1_000_000


class SaleIn(In):
    variant_id: int = Field(ge=1, le=2**62)
    price: Amount
    units: int = Field(ge=1, le=MAX_UNITS)
    per_buyer_limit: int = Field(default=1, ge=1, le=100)
    countdown_ms: int = Field(default=3000, ge=0, le=60_000)
    duration_secs: int = Field(default=600, ge=10, le=24 * 3600)
    payment_window_secs: int = Field(default=300, ge=60, le=3600)
    mode: Literal["first_come", "fair_window"] = "first_come"
    window_ms: int = Field(
        default=200,
        ge=50,
        le=2000,
        description="fair_window: requests within this many ms after opens_at are drawn by lot",
    )


class PurchaseIn(In):
    quantity: int = Field(default=1, ge=1, le=100)


class SaleOut(Out):
    id: int
    show_id: int
    variant_id: int
    product_id: int
    currency: str
    price: Decimal
    allotted: int
    left: int
    per_buyer_limit: int
    opens_at: datetime
    closes_at: datetime
    payment_window_secs: int
    mode: str
    window_ms: int
    seed_hash: str | None = Field(description="fair_window: SHA-256 of the secret seed")
    phase: Literal["upcoming", "open", "sold_out", "closed"]


class ClaimOut(Out):
    id: int
    sale_id: int
    quantity: int
    unit_price: Decimal
    total: Decimal
    currency: str
    status: Literal["awaiting_payment", "paid", "expired", "cancelled"]
    expires_at: datetime


class LotOut(Out):
    pseudonym: str
    key_hash: str
    quantity: int
    lot: str
    outcome: Literal["won", "sold_out", "buyer_limit_reached", "refused"]


class AllocationOut(Out):
    """A fair_window sale's public allocation: recompute it with `livecart verify-allocation`."""

    sale_id: int
    allotted: int
    per_buyer_limit: int
    window_ms: int
    seed: str
    seed_hash: str
    entries: list[LotOut]
    recompute: str


class ReconcileOut(Out):
    """Do the gate's counters (this server's memory or Redis) and the database agree with the
    claims? With `repair`, both were rebuilt from the claims."""

    sale_id: int
    backend: str
    allotted: int
    claimed: int = Field(description="live units in claims: paid + awaiting payment")
    left: int
    db_taken: int
    gate_taken: int | None = Field(description="None: the gate holds nothing for it yet")
    db_buyers_differ: int
    gate_buyers_differ: int | None
    gate_requests_missing: int | None
    gate_requests_extra: int | None
    agree: bool = Field(description="the counters agree with the claims")
    unmatched: dict[str, int] = Field(
        description="references of the sale's rows that do not resolve, by kind (e.g. "
        "claims_without_order); repair does not change them (a claim a crash left without "
        "its order gets it from the orders' sweep within seconds)"
    )
    references_resolve: bool
    repaired: bool
